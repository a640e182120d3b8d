/**
 * The machine the bench runs on, and its own limits measured in-process:
 * WebCrypto AES-256-GCM on chat-sized messages and on large buffers, and the
 * RSA-OAEP private-key operation every handshake costs the server.
 */

import { createCipheriv } from "node:crypto";
import {
  type FrameAeadName,
  frameAeadName,
} from "../src/crypto/native_aead.ts";
import { now } from "./_ipc.ts";
import { cpuModel } from "./_proc.ts";

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  deno: string;
  v8: string;
  kernel: string;
  loadAverageAtStart: number[];
  /** The AES-256-GCM chat's processes seal frames with in this run. */
  frameAead: FrameAeadName;
}

export async function describeMachine(): Promise<Machine> {
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel: await cpuModel(),
    memoryBytes: Deno.systemMemoryInfo().total,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    kernel: Deno.osRelease(),
    loadAverageAtStart: Deno.loadavg(),
    frameAead: frameAeadName,
  };
}

export interface MachineLimits {
  /** AES-256-GCM encryptions of 100-byte messages per second, one at a time. */
  aes100OpsPerSec: number;
  /** AES-256-GCM encryption of 1 MiB buffers, bytes per second. */
  aes1MiBBytesPerSec: number;
  /** The same through node:crypto (synchronous, one call per frame). */
  nodeAes100OpsPerSec: number;
  nodeAes1MiBBytesPerSec: number;
  /** RSA-OAEP-SHA256 decryptions per second, by key size. */
  rsaDecryptsPerSec: Record<string, number>;
}

/** Runs `op` repeatedly for about `ms`; returns operations per second. */
async function rate(ms: number, op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await op();
  let count = 0;
  const start = now();
  const end = start + ms;
  while (now() < end) {
    await op();
    count++;
  }
  return count / ((now() - start) / 1000);
}

export async function measureMachineLimits(
  budgetMs: number,
): Promise<MachineLimits> {
  const key = await crypto.subtle.importKey(
    "raw",
    crypto.getRandomValues(new Uint8Array(32)),
    "AES-GCM",
    false,
    ["encrypt"],
  );
  const iv = new Uint8Array(12);
  const small = new Uint8Array(100);
  const big = new Uint8Array(1024 * 1024);
  const aes100OpsPerSec = await rate(
    budgetMs * 0.25,
    () => crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, small),
  );
  const bigOps = await rate(
    budgetMs * 0.25,
    () => crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, big),
  );
  const rawKey = crypto.getRandomValues(new Uint8Array(32));
  const nodeSeal = (data: Uint8Array) => {
    const cipher = createCipheriv("aes-256-gcm", rawKey, iv);
    cipher.update(data);
    cipher.final();
    return Promise.resolve(cipher.getAuthTag());
  };
  const nodeAes100OpsPerSec = await rate(
    budgetMs * 0.1,
    () => nodeSeal(small),
  );
  const nodeBigOps = await rate(budgetMs * 0.1, () => nodeSeal(big));
  const rsaDecryptsPerSec: Record<string, number> = {};
  for (const bits of [2048, 3072]) {
    const pair = await crypto.subtle.generateKey(
      {
        name: "RSA-OAEP",
        modulusLength: bits,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
      false,
      ["encrypt", "decrypt"],
    ) as CryptoKeyPair;
    const sealed = await crypto.subtle.encrypt(
      { name: "RSA-OAEP" },
      pair.publicKey,
      new Uint8Array(32),
    );
    rsaDecryptsPerSec[`rsa${bits}`] = await rate(
      budgetMs * 0.1,
      () =>
        crypto.subtle.decrypt({ name: "RSA-OAEP" }, pair.privateKey, sealed),
    );
  }
  return {
    aes100OpsPerSec,
    aes1MiBBytesPerSec: bigOps * big.byteLength,
    nodeAes100OpsPerSec,
    nodeAes1MiBBytesPerSec: nodeBigOps * big.byteLength,
    rsaDecryptsPerSec,
  };
}
