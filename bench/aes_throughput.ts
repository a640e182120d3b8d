/**
 * The wall under file transfers (issue 16): AES-256-GCM throughput on large
 * buffers in Deno (node:crypto, as `src/crypto/native_aead.ts` seals every
 * frame, and WebCrypto) against OpenSSL's on the same CPU (`openssl speed`,
 * when installed). Every byte of a file is sealed or opened four times on
 * its way (sender, server in and out, receiver), so this bounds what the
 * three processes can reach together on a machine with few cores.
 *
 *     deno run --allow-run bench/aes_throughput.ts [MiB per trial, default 128]
 *
 * Not part of `deno task bench`.
 */

import { createCipheriv } from "node:crypto";

const MIB = 1024 * 1024;
const total = Number(Deno.args[0] ?? 128);
const key = new Uint8Array(32).fill(1);
const data = new Uint8Array(MIB).fill(7);

function nonce(i: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(8, i);
  return iv;
}

function rate(started: number): string {
  const seconds = (performance.now() - started) / 1000;
  return `${(total * MIB / seconds / 1e9).toFixed(2)} GB/s`;
}

let started = performance.now();
for (let i = 0; i < total; i++) {
  const cipher = createCipheriv("aes-256-gcm", key, nonce(i));
  cipher.update(data);
  cipher.final();
  cipher.getAuthTag();
}
console.log(`node:crypto AES-256-GCM, 1 MiB buffers: ${rate(started)}`);

const webKey = await crypto.subtle.importKey("raw", key, "AES-GCM", false, [
  "encrypt",
]);
started = performance.now();
for (let i = 0; i < total; i++) {
  await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce(i) }, webKey, data);
}
console.log(`WebCrypto AES-256-GCM, 1 MiB buffers: ${rate(started)}`);

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
