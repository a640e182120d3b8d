import assert from "node:assert/strict";
import { toHex } from "../../src/crypto/bytes.ts";
import {
  DhError,
  generateX25519KeyPair,
  hkdf,
  hmacSha256,
  x25519,
  x25519KeyPairFromSeed,
} from "../../src/crypto/x25519.ts";
import { hexBytes } from "../_helpers/small_order.ts";

Deno.test("x25519 matches the RFC 7748 section 6.1 vector", async () => {
  const alice = await x25519KeyPairFromSeed(
    hexBytes(
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    ),
  );
  const bob = await x25519KeyPairFromSeed(
    hexBytes(
      "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    ),
  );
  assert.equal(
    toHex(alice.publicRaw),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  assert.equal(
    toHex(bob.publicRaw),
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  );
  const expected =
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  assert.equal(toHex(await x25519(alice.privateSeed, bob.publicRaw)), expected);
  assert.equal(toHex(await x25519(bob.privateSeed, alice.publicRaw)), expected);
});

Deno.test("generateX25519KeyPair gives pairs whose seeds rebuild them", async () => {
  const pair = await generateX25519KeyPair();
  const again = await x25519KeyPairFromSeed(pair.privateSeed);
  assert.deepEqual(again.publicRaw, pair.publicRaw);
  assert.notDeepEqual(
    (await generateX25519KeyPair()).publicRaw,
    pair.publicRaw,
  );
});

Deno.test("x25519 refuses small-order and wrongly sized public keys", async () => {
  const pair = await generateX25519KeyPair();
  for (
    const bad of [
      new Uint8Array(32),
      Uint8Array.of(1, ...new Uint8Array(31)),
      new Uint8Array(31),
    ]
  ) {
    await assert.rejects(() => x25519(pair.privateSeed, bad), DhError);
  }
});

Deno.test("hkdf and hmacSha256 match RFC 5869 case 1 and RFC 4231 case 2", async () => {
  const okm = await hkdf(
    new Uint8Array(22).fill(0x0b),
    hexBytes("000102030405060708090a0b0c"),
    hexBytes("f0f1f2f3f4f5f6f7f8f9"),
    42,
  );
  assert.equal(
    toHex(okm),
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  );
  const mac = await hmacSha256(
    new TextEncoder().encode("Jefe"),
    new TextEncoder().encode("what do ya want for nothing?"),
  );
  assert.equal(
    toHex(mac),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
});
