/**
 * Seeded end-to-end keys for test vectors: every private key is 32 copies of
 * one byte, so docs/PROTOCOL.md's vectors and tests/crypto/e2e_vectors.py
 * can rebuild them from the byte alone.
 */

import { type Identity, importIdentityPem } from "../../src/crypto/identity.ts";
import { toBase64 } from "../../src/crypto/bytes.ts";
import {
  type X25519KeyPair,
  x25519KeyPairFromSeed,
} from "../../src/crypto/x25519.ts";

/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410). */
const PKCS8_ED25519_PREFIX = [
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
];

/** The Ed25519 identity whose seed is 32 bytes of `byte`. */
export async function seededIdentity(byte: number): Promise<Identity> {
  const der = Uint8Array.of(
    ...PKCS8_ED25519_PREFIX,
    ...new Uint8Array(32).fill(byte),
  );
  return await importIdentityPem(
    `-----BEGIN PRIVATE KEY-----\n${
      toBase64(der)
    }\n-----END PRIVATE KEY-----\n`,
  );
}

/** The X25519 key pair whose private seed is 32 bytes of `byte`. */
export async function seededX25519(byte: number): Promise<X25519KeyPair> {
  return await x25519KeyPairFromSeed(new Uint8Array(32).fill(byte));
}

/** A key source that hands out the seeded pairs of `bytes` in order. */
export function seededSource(
  ...bytes: number[]
): () => Promise<X25519KeyPair> {
  const queue = [...bytes];
  return async () => {
    const byte = queue.shift();
    if (byte === undefined) throw new Error("The seeded key source ran out");
    return await seededX25519(byte);
  };
}
