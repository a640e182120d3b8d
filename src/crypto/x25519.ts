// This module is browser compatible.

/**
 * X25519 key pairs kept as bytes, the Diffie-Hellman function, and the
 * HKDF-SHA-256 and HMAC-SHA-256 the end-to-end layer derives keys with
 * (docs/PROTOCOL.md "End to end (in progress)"). WebCrypto does every
 * operation; this file only moves bytes.
 *
 * A private key is kept as its 32-byte seed (the RFC 7748 scalar before
 * clamping), not as a `CryptoKey`: end-to-end state must be written to disk
 * and read back (issue 17 item 4), and fixed seeds give test vectors that an
 * independent client can reproduce.
 */

import { arrayBufferBacked, concatBytes, equalBytes } from "./bytes.ts";

/** Length of an X25519 public key, private seed and shared secret. */
export const X25519_BYTES = 32;

/** PKCS#8 DER prefix of an X25519 private key (RFC 8410): the seed follows. */
const PKCS8_X25519_PREFIX = Uint8Array.of(
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
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
);

const X25519: Algorithm = { name: "X25519" };

/** A Diffie-Hellman key that cannot be used, with the reason. */
export class DhError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DhError";
  }
}

/** An X25519 key pair as bytes. */
export interface X25519KeyPair {
  /** The 32-byte private seed. */
  privateSeed: Uint8Array<ArrayBuffer>;
  /** The 32-byte raw public key. */
  publicRaw: Uint8Array<ArrayBuffer>;
}

/** A new random X25519 key pair. */
export async function generateX25519KeyPair(): Promise<X25519KeyPair> {
  const pair = await crypto.subtle.generateKey(X25519, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  return await x25519KeyPairFromSeed(fromBase64Url(jwk.d ?? ""));
}

/**
 * The X25519 key pair of a 32-byte private seed (for test vectors and for
 * state read back from disk).
 *
 * @throws {DhError} if the seed is not 32 bytes
 */
export async function x25519KeyPairFromSeed(
  seed: Uint8Array,
): Promise<X25519KeyPair> {
  if (seed.length !== X25519_BYTES) {
    throw new DhError(
      `An X25519 private key is ${X25519_BYTES} bytes, not ${seed.length}`,
    );
  }
  const key = await importPrivate(seed, true);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  return {
    privateSeed: arrayBufferBacked(seed.slice()),
    publicRaw: fromBase64Url(jwk.x ?? ""),
  };
}

/**
 * X25519(private seed, peer public key), 32 bytes.
 *
 * @throws {DhError} if the peer key is not 32 bytes, is refused by WebCrypto,
 * or gives the all-zero secret (a point of small order: its "secret" is known
 * to everyone, so the exchange would be worthless)
 */
export async function x25519(
  privateSeed: Uint8Array,
  peerPublic: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  if (peerPublic.length !== X25519_BYTES) {
    throw new DhError(
      `An X25519 public key is ${X25519_BYTES} bytes, not ${peerPublic.length}`,
    );
  }
  let shared: Uint8Array<ArrayBuffer>;
  try {
    const peer = await crypto.subtle.importKey(
      "raw",
      arrayBufferBacked(peerPublic),
      X25519,
      false,
      [],
    );
    shared = new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "X25519", public: peer },
        await importPrivate(privateSeed, false),
        X25519_BYTES * 8,
      ),
    );
  } catch (error) {
    throw new DhError("The X25519 public key is unusable", { cause: error });
  }
  if (equalBytes(shared, new Uint8Array(X25519_BYTES))) {
    throw new DhError("The X25519 public key is a point of small order");
  }
  return shared;
}

/** HKDF-SHA-256 (RFC 5869) of `ikm` to `length` bytes. */
export async function hkdf(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "raw",
    arrayBufferBacked(ikm),
    "HKDF",
    false,
    ["deriveBits"],
  );
  return new Uint8Array(
    await crypto.subtle.deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: arrayBufferBacked(salt),
        info: arrayBufferBacked(info),
      },
      key,
      length * 8,
    ),
  );
}

/** HMAC-SHA-256(key, data), 32 bytes. */
export async function hmacSha256(
  key: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const hmacKey = await crypto.subtle.importKey(
    "raw",
    arrayBufferBacked(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", hmacKey, arrayBufferBacked(data)),
  );
}

async function importPrivate(
  seed: Uint8Array,
  extractable: boolean,
): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey(
      "pkcs8",
      concatBytes(PKCS8_X25519_PREFIX, seed),
      X25519,
      extractable,
      ["deriveBits"],
    );
  } catch (error) {
    throw new DhError("The X25519 private key is unusable", { cause: error });
  }
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const standard = text.replaceAll("-", "+").replaceAll("_", "/");
  const padded = standard + "=".repeat((4 - standard.length % 4) % 4);
  const binary = atob(padded);
  const out = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (out.length !== X25519_BYTES) {
    throw new DhError("WebCrypto returned an X25519 key of the wrong length");
  }
  return out;
}
