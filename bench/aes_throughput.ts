/**
 * The wall under file transfers (issue 16): what each primitive that could
 * protect or check a file's bytes costs per byte in Deno, by buffer size,
 * against OpenSSL's AES-256-GCM on the same CPU (`openssl speed`, when
 * installed). It chooses the file path's construction (docs/PROTOCOL.md
 * 5.6): which AEAD, at which chunk size, and how the whole-file SHA-256 is
 * computed.
 *
 * Measured: AES-256-GCM (WebCrypto, and node:crypto as
 * `src/crypto/native_aead.ts` uses it), AES-256-CTR and HMAC-SHA-256 (the
 * encrypt-then-MAC alternative) and SHA-256 (crypto.subtle.digest and
 * node:crypto's incremental hash), each on 64 KiB, 256 KiB, 1 MiB and
 * 4 MiB buffers, one call after another (WebCrypto's calls go to a thread
 * pool; a second column runs 4 at a time, as a pipelined sender could).
 *
 *     deno run --allow-run bench/aes_throughput.ts [MiB per trial, default 128]
 *
 * Not part of `deno task bench`.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
} from "node:crypto";

const KIB = 1024;
const MIB = 1024 * KIB;
const total = Number(Deno.args[0] ?? 128) * MIB;
const SIZES = [64 * KIB, 256 * KIB, MIB, 4 * MIB];
const key = new Uint8Array(32).fill(1);

function nonce(i: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(8, i);
  return iv;
}

function counter(i: number): Uint8Array<ArrayBuffer> {
  const block = new Uint8Array(16);
  new DataView(block.buffer).setUint32(8, i);
  return block;
}

/** GB/s of `run(i)` called on `size`-byte buffers until `total` bytes. */
async function measure(
  size: number,
  run: (i: number) => unknown,
  inFlight = 1,
): Promise<number> {
  const calls = Math.max(4, Math.round(total / size));
  const started = performance.now();
  const pending: unknown[] = [];
  for (let i = 0; i < calls; i++) {
    pending.push(run(i));
    if (pending.length >= inFlight) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return calls * size / ((performance.now() - started) / 1000) / 1e9;
}

const webGcm = await crypto.subtle.importKey("raw", key, "AES-GCM", false, [
  "encrypt",
  "decrypt",
]);
const webCtr = await crypto.subtle.importKey("raw", key, "AES-CTR", false, [
  "encrypt",
]);
const webHmac = await crypto.subtle.importKey(
  "raw",
  key,
  { name: "HMAC", hash: "SHA-256" },
  false,
  ["sign"],
);

type Row = [string, (data: Uint8Array<ArrayBuffer>) => (i: number) => unknown];
const rows: Row[] = [
  [
    "WebCrypto AES-256-GCM encrypt",
    (data) => (i) =>
      crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce(i) }, webGcm, data),
  ],
  [
    "node:crypto AES-256-GCM encrypt",
    (data) => (i) => {
      const cipher = createCipheriv("aes-256-gcm", key, nonce(i));
      cipher.update(data);
      cipher.final();
      return cipher.getAuthTag();
    },
  ],
  [
    "node:crypto AES-256-GCM decrypt",
    (data) => {
      const cipher = createCipheriv("aes-256-gcm", key, nonce(0));
      const sealed = cipher.update(data);
      cipher.final();
      const tag = cipher.getAuthTag();
      return () => {
        const decipher = createDecipheriv("aes-256-gcm", key, nonce(0));
        decipher.setAuthTag(tag);
        decipher.update(sealed);
        return decipher.final();
      };
    },
  ],
  [
    "WebCrypto AES-256-CTR",
    (data) => (i) =>
      crypto.subtle.encrypt(
        { name: "AES-CTR", counter: counter(i), length: 64 },
        webCtr,
        data,
      ),
  ],
  [
    "node:crypto AES-256-CTR",
    (data) => (i) => {
      const cipher = createCipheriv("aes-256-ctr", key, counter(i));
      cipher.update(data);
      return cipher.final();
    },
  ],
  [
    "WebCrypto HMAC-SHA-256",
    (data) => () => crypto.subtle.sign("HMAC", webHmac, data),
  ],
  [
    "node:crypto HMAC-SHA-256",
    (data) => () => createHmac("sha256", key).update(data).digest(),
  ],
  [
    "WebCrypto SHA-256 digest",
    (data) => () => crypto.subtle.digest("SHA-256", data),
  ],
  [
    "node:crypto SHA-256 (one hash)",
    (data) => {
      const hash = createHash("sha256");
      return () => hash.update(data);
    },
  ],
];

const header = ["GB/s".padEnd(34), ...SIZES.map(label)].join("");
console.log(`${header}   (4 in flight, 1 MiB)`);
for (const [name, make] of rows) {
  const cells: string[] = [];
  for (const size of SIZES) {
    const data = new Uint8Array(size).fill(7);
    cells.push((await measure(size, make(data))).toFixed(2).padStart(10));
  }
  const data = new Uint8Array(MIB).fill(7);
  const parallel = (await measure(MIB, make(data), 4)).toFixed(2);
  console.log(`${name.padEnd(34)}${cells.join("")}   ${parallel.padStart(6)}`);
}

function label(size: number): string {
  const text = size >= MIB ? `${size / MIB} MiB` : `${size / KIB} KiB`;
  return text.padStart(10);
}

try {
  const { stdout } = await new Deno.Command("openssl", {
    args: [
      "speed",
      "-seconds",
      "2",
      "-bytes",
      String(MIB),
      "-evp",
      "aes-256-gcm",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const line = new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "";
  const kilobytes = Number(line.trim().split(/\s+/).at(-1)?.replace("k", ""));
  console.log(
    `OpenSSL AES-256-GCM, 1 MiB buffers: ${
      (kilobytes * 1000 / 1e9).toFixed(2)
    } GB/s`,
  );
} catch {
  console.log("OpenSSL: not installed (apt-get install openssl)");
}
