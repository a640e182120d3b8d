import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { loadOpenSslHashes } from "../../src/crypto/openssl_hash.ts";
import { roomHashes } from "../../src/crypto/native_room.ts";

const encoder = new TextEncoder();

function hashes() {
  // The tests run with --allow-ffi on a system with libcrypto 3.
  const loaded = loadOpenSslHashes();
  assert.ok(loaded !== null, "libcrypto 3 loads");
  return loaded;
}

Deno.test("loadOpenSslHashes' sha256 gives FIPS 180-2's digest of 'abc' and of nothing", () => {
  const { sha256 } = hashes();
  assert.equal(
    sha256(encoder.encode("abc")).toHex(),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256(new Uint8Array(0)).toHex(),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("loadOpenSslHashes' hmacSha256 gives RFC 4231 test case 2, again and again on one key", () => {
  const mac = hashes().hmacSha256(encoder.encode("Jefe"));
  const message = encoder.encode("what do ya want for nothing?");
  const expected =
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  // The key's context is reused: every call must start from the key afresh.
  for (let i = 0; i < 3; i++) assert.equal(mac(message).toHex(), expected);
});

Deno.test("loadOpenSslHashes agrees with node:crypto on random keys and sizes, each key its own", () => {
  const { sha256, hmacSha256 } = hashes();
  const keys = [1, 2].map(() => crypto.getRandomValues(new Uint8Array(32)));
  const macs = keys.map((key) => hmacSha256(key));
  for (const size of [0, 1, 62, 64, 65, 4096, 100_000]) {
    const data = Uint8Array.from({ length: size }, (_, i) => i * 13);
    assert.equal(
      sha256(data).toHex(),
      createHash("sha256").update(data).digest("hex"),
    );
    for (const [k, mac] of macs.entries()) {
      assert.equal(
        mac(data).toHex(),
        createHmac("sha256", keys[k]!).update(data).digest("hex"),
      );
    }
  }
});

Deno.test("roomHashes is OpenSSL's where FFI is granted", () => {
  assert.equal(roomHashes.name, "openssl");
});
