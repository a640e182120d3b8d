/**
 * libcrypto, once our loaders have it, never runs its exit clean-up
 * (`OPENSSL_cleanup`), which races other threads still in libcrypto
 * (openssl_aead.ts, skipExitCleanup). Seen from outside: a child process
 * loads the library through one loader, uses it, then asks OpenSSL to call
 * `abort` from that clean-up (`OPENSSL_atexit`); it exits normally only if
 * the clean-up never runs.
 */

import assert from "node:assert/strict";

const AEAD = new URL("../../src/crypto/openssl_aead.ts", import.meta.url);
const HASH = new URL("../../src/crypto/openssl_hash.ts", import.meta.url);

/** The child's script after `use`: it registers `abort` as described above. */
function abortAtCleanup(use: string): string {
  return `
${use}
const libc = Deno.dlopen("libc.so.6", {
  dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
}).symbols;
const libcrypto = Deno.dlopen("libcrypto.so.3", {
  OPENSSL_atexit: { parameters: ["pointer"], result: "i32" },
}).symbols;
const abort = libc.dlsym(null, new TextEncoder().encode("abort\\0"));
if (abort === null || libcrypto.OPENSSL_atexit(abort) !== 1) Deno.exit(3);
`;
}

async function exitOf(script: string): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

function assertCleanExit(output: Deno.CommandOutput): void {
  assert.equal(
    output.signal,
    null,
    `the child died by ${output.signal}: OpenSSL's exit clean-up ran`,
  );
  assert.equal(
    output.code,
    0,
    new TextDecoder().decode(output.stderr),
  );
}

Deno.test({
  name:
    "loadOpenSslAead keeps libcrypto from cleaning up at exit, which races other threads",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    assertCleanExit(
      await exitOf(abortAtCleanup(`
import { loadOpenSslAead } from "${AEAD.href}";
const aead = loadOpenSslAead();
if (aead === null) Deno.exit(2);
const sealed = new Uint8Array(26);
aead.sealInto(new Uint8Array(32), new Uint8Array(12), new Uint8Array(0),
  new Uint8Array(10), sealed, 0);
`)),
    );
  },
});

Deno.test({
  name:
    "loadOpenSslHashes, loaded first, keeps libcrypto from cleaning up at exit",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    assertCleanExit(
      await exitOf(abortAtCleanup(`
import { loadOpenSslHashes } from "${HASH.href}";
const hashes = loadOpenSslHashes();
if (hashes === null) Deno.exit(2);
hashes.hmacSha256(new Uint8Array(32))(hashes.sha256(new Uint8Array(10)));
`)),
    );
  },
});
