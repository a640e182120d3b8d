import assert from "node:assert/strict";
import {
  FILE_END_LABEL,
  newFileSigner,
  verifyFileEnd,
} from "../../src/crypto/file_signature.ts";
import { concatBytes, utf8Encode } from "../../src/crypto/bytes.ts";

/** PKCS#8 DER of an Ed25519 private key, before its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Uint8Array.fromHex(
  "302e020100300506032b657004220420",
);

Deno.test("a file-end signature is Ed25519 over 'chat/1 file end' and the keyed SHA-256's 32 bytes: the vector of PROTOCOL.md 11.10", async () => {
  const seed = new Uint8Array(32).fill(9);
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    concatBytes(PKCS8_ED25519_PREFIX, seed),
    { name: "Ed25519" },
    false,
    ["sign"],
  );
  const sha256 = "0a".repeat(32);
  const signature = new Uint8Array(
    await crypto.subtle.sign(
      { name: "Ed25519" },
      privateKey,
      concatBytes(utf8Encode(FILE_END_LABEL), Uint8Array.fromHex(sha256)),
    ),
  );
  assert.equal(
    signature.toBase64(),
    "8OidOOAil1bHuaThQxeHKXxbYKVTxroLkfp1NK+jXQFdEmM5xH+rmJG4F01iT8JCuS/0j1xLv3GAaLrqX+jUCw==",
  );
  const verifyKey = Uint8Array.fromHex(
    "fd1724385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f618",
  );
  assert.equal(
    await verifyFileEnd(verifyKey, sha256, signature.toBase64()),
    true,
  );
  assert.equal(
    await verifyFileEnd(verifyKey, "0b".repeat(32), signature.toBase64()),
    false,
  );
});

Deno.test("verifyFileEnd refuses a missing, malformed or foreign signature, a key of small order and a digest that is not 64 hex digits", async () => {
  const signer = await newFileSigner();
  const other = await newFileSigner();
  const sha256 = "ab".repeat(32);
  const sig = await signer.sign(sha256);
  assert.equal(sig.length, 88);
  assert.equal(await verifyFileEnd(signer.verifyKey, sha256, sig), true);
  assert.equal(await verifyFileEnd(signer.verifyKey, sha256, undefined), false);
  assert.equal(
    await verifyFileEnd(signer.verifyKey, sha256, await other.sign(sha256)),
    false,
  );
  assert.equal(await verifyFileEnd(other.verifyKey, sha256, sig), false);
  for (const bad of ["", "!!", sig.slice(0, 86), sig + "AAAA"]) {
    assert.equal(await verifyFileEnd(signer.verifyKey, sha256, bad), false);
  }
  // The identity point: S = 0 with R = that point verifies for any message.
  const identity = Uint8Array.fromHex("01" + "00".repeat(31));
  const forged = concatBytes(identity, new Uint8Array(32)).toBase64();
  assert.equal(await verifyFileEnd(identity, sha256, forged), false);
  assert.equal(
    await verifyFileEnd(signer.verifyKey, sha256.toUpperCase(), sig),
    false,
  );
  await assert.rejects(signer.sign("not hex"), TypeError);
});
