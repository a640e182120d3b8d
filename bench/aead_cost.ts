/**
 * Per-call cost of the native AES-256-GCM paths a session frame can take:
 * node:crypto (synchronous, `src/crypto/native_aead.ts`) and WebCrypto
 * (asynchronous; one call at a time, and 99 at once as a server's fan-out of
 * one message would issue them).
 *
 *     deno run --allow-env bench/aead_cost.ts [node|web|all] [calls per trial]
 *
 * Time per call: the median of TRIALS trials (default 9), garbage collection
 * included. For the bytes allocated per call, give V8 a young generation large
 * enough that no collection runs while a trial counts:
 *
 *     deno run --allow-env --v8-flags=--min-semi-space-size=64,--max-semi-space-size=64 bench/aead_cost.ts all 2000
 *
 * Sizes: SIZES=60,200,1000,4000 (the default). Not part of `deno task bench`.
 */

import { createCipheriv, createDecipheriv } from "node:crypto";
import { nativeSmallFrames } from "../src/crypto/native_aead.ts";

const SIZES = (Deno.env.get("SIZES") ?? "60,200,1000,4000").split(",").map(
  Number,
);
const TRIALS = Number(Deno.env.get("TRIALS") ?? 9);
const which = Deno.args[0] ?? "all";
const CALLS = Number(Deno.args[1] ?? 2000);
const HEADER = 9;
const TAG = 16;

const key = crypto.getRandomValues(new Uint8Array(32));
const nonce = crypto.getRandomValues(new Uint8Array(12));
const aad = crypto.getRandomValues(new Uint8Array(HEADER));
const webKey = await crypto.subtle.importKey("raw", key, "AES-GCM", false, [
  "encrypt",
  "decrypt",
]);

type SyncCall = (plaintext: Uint8Array, out: Uint8Array) => unknown;
type AsyncCall = (plaintext: Uint8Array) => Promise<unknown>;

/** The session's path: one cipher object per frame, output copied into ours. */
const nodeSeal: SyncCall = (plaintext, out) =>
  nativeSmallFrames.sealInto(key, nonce, aad, plaintext, out, HEADER);

/** The same calls without the copies into a frame: what the API costs alone. */
const nodeSealBare: SyncCall = (plaintext) => {
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(aad);
  cipher.update(plaintext);
  cipher.final();
  return cipher.getAuthTag();
};

const sealedCache = new Map<number, Uint8Array<ArrayBuffer>>();
function sealed(size: number): Uint8Array<ArrayBuffer> {
  let bytes = sealedCache.get(size);
  if (bytes === undefined) {
    const frame = new Uint8Array(HEADER + size + TAG);
    nodeSeal(new Uint8Array(size), frame);
    bytes = frame.slice(HEADER);
    sealedCache.set(size, bytes);
  }
  return bytes;
}

const nodeOpen: SyncCall = (plaintext) => {
  const opened = nativeSmallFrames.open(
    key,
    nonce,
    aad,
    sealed(plaintext.length),
  );
  if (opened === null) throw new Error("did not open");
};

const nodeOpenBare: SyncCall = (plaintext) => {
  const bytes = sealed(plaintext.length);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG));
  decipher.update(bytes.subarray(0, bytes.length - TAG));
  decipher.final();
};

const webSeal: AsyncCall = (plaintext) =>
  crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: aad },
    webKey,
    plaintext as Uint8Array<ArrayBuffer>,
  );

const webOpen: AsyncCall = (plaintext) =>
  crypto.subtle.decrypt(
    { name: "AES-GCM", iv: nonce, additionalData: aad },
    webKey,
    sealed(plaintext.length),
  );

function allocated(): number {
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

function report(name: string, size: number, ms: number[], bytes: number[]) {
  const us = (median(ms) * 1000 / CALLS).toFixed(2);
  const perCall = (median(bytes) / CALLS).toFixed(0);
  console.log(
    `${name.padEnd(30)} ${String(size).padStart(6)} B ${
      us.padStart(8)
    } µs/call ${perCall.padStart(7)} B/call`,
  );
}

function runSync(name: string, call: SyncCall, size: number): void {
  const plaintext = crypto.getRandomValues(new Uint8Array(size));
  const out = new Uint8Array(HEADER + size + TAG);
  // Until the JIT has compiled the path (unoptimised code boxes numbers).
  for (let i = 0; i < 20_000; i++) call(plaintext, out);
  const ms: number[] = [];
  const bytes: number[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const before = allocated();
    const start = performance.now();
    for (let i = 0; i < CALLS; i++) call(plaintext, out);
    ms.push(performance.now() - start);
    bytes.push(allocated() - before);
  }
  report(name, size, ms, bytes);
}

async function runAsync(
  name: string,
  call: AsyncCall,
  size: number,
  inFlight: number,
): Promise<void> {
  const plaintext = crypto.getRandomValues(new Uint8Array(size));
  for (let i = 0; i < 2_000; i++) await call(plaintext);
  const ms: number[] = [];
  const bytes: number[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const before = allocated();
    const start = performance.now();
    for (let i = 0; i < CALLS; i += inFlight) {
      const calls = [];
      for (let j = 0; j < inFlight && i + j < CALLS; j++) {
        calls.push(call(plaintext));
      }
      await Promise.all(calls);
    }
    ms.push(performance.now() - start);
    bytes.push(allocated() - before);
  }
  report(name, size, ms, bytes);
}

for (const size of SIZES) {
  if (which === "all" || which === "node") {
    runSync("node:crypto seal into frame", nodeSeal, size);
    runSync("node:crypto seal, no copies", nodeSealBare, size);
    runSync("node:crypto open", nodeOpen, size);
    runSync("node:crypto open, bare", nodeOpenBare, size);
  }
  if (which === "all" || which === "web") {
    await runAsync("WebCrypto seal, 1 at a time", webSeal, size, 1);
    await runAsync("WebCrypto seal, 99 at once", webSeal, size, 99);
    await runAsync("WebCrypto open, 1 at a time", webOpen, size, 1);
  }
}
