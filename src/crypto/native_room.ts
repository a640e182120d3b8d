/**
 * Room-frame primitives (room_frame.ts's {@link RoomCrypto}) called
 * synchronously: the server MACs one room frame per batch for every member,
 * and every Deno client checks one, and WebCrypto's promise costs more than
 * the work. AES-GCM is `frameAead`'s (OpenSSL for every size where FFI is
 * granted, see `cipher`), HMAC-SHA-256 and SHA-256 OpenSSL's too
 * ({@link roomHashes}).
 * Not browser compatible (node:crypto): the web page uses `webRoomCrypto`.
 */

import {
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import {
  ROOM_KEY_BYTES,
  ROOM_MAC_BYTES,
  type RoomCipher,
  type RoomCrypto,
  webRoomCrypto,
} from "./room_frame.ts";
import { frameAead, type FrameAeadName, frameAeadName } from "./native_aead.ts";
import { loadOpenSslHashes, type Sha256Functions } from "./openssl_hash.ts";

const TAG_BYTES = 16;

const nodeHashes: Sha256Functions = {
  sha256: (data) => new Uint8Array(createHash("sha256").update(data).digest()),
  hmacSha256: (key) => (message) =>
    new Uint8Array(createHmac("sha256", key).update(message).digest()),
};

/**
 * OpenSSL's one-shot SHA-256 and HMAC (openssl_hash.ts) where FFI is granted
 * and they agree with node:crypto on a random input at load, else
 * node:crypto's (several times slower per call here); `CHAT_AEAD=node`
 * forces the latter, as it does for frameAead.
 */
export const roomHashes: Sha256Functions & { name: FrameAeadName } =
  chooseHashes();

function chooseHashes(): Sha256Functions & { name: FrameAeadName } {
  const fallback = { ...nodeHashes, name: "node:crypto" } as const;
  if (frameAeadName !== "openssl") return fallback;
  const openssl = loadOpenSslHashes();
  if (openssl === null) return fallback;
  const key = randomBytes(32);
  const data = randomBytes(100);
  try {
    const agree = openssl.sha256(data).toHex() ===
        nodeHashes.sha256(data).toHex() &&
      openssl.hmacSha256(key)(data).toHex() ===
        nodeHashes.hmacSha256(key)(data).toHex();
    return agree ? { ...openssl, name: "openssl" } : fallback;
  } catch {
    return fallback;
  }
}

const hashes = roomHashes;

export const nativeRoomCrypto: RoomCrypto = {
  cipher(key) {
    const raw = key.slice();
    // frameAead (native_aead.ts) is OpenSSL for every size where FFI is
    // granted; node:crypto's fallback takes up to 4 KiB, and larger batches
    // then go to WebCrypto (about twice node:crypto's speed on large
    // buffers, and off the main thread).
    let web: RoomCipher | Promise<RoomCipher> | null = null;
    const large = () => (web ??= webRoomCrypto.cipher(raw));
    return {
      seal(nonce, aad, plaintext) {
        if (plaintext.length > frameAead.maxPlaintext) {
          return Promise.resolve(large()).then((c) =>
            c.seal(nonce, aad, plaintext)
          );
        }
        const out = new Uint8Array(plaintext.length + TAG_BYTES);
        frameAead.sealInto(raw, nonce, aad, plaintext, out, 0);
        return out;
      },
      open(nonce, aad, sealed) {
        if (sealed.length < TAG_BYTES) return null;
        if (sealed.length - TAG_BYTES > frameAead.maxPlaintext) {
          return Promise.resolve(large()).then((c) =>
            c.open(nonce, aad, sealed)
          );
        }
        return frameAead.open(raw, nonce, aad, sealed);
      },
    };
  },

  mac(key) {
    if (key.length !== ROOM_KEY_BYTES) {
      throw new RangeError("A room MAC key is 32 bytes");
    }
    const sign = hashes.hmacSha256(key.slice());
    return {
      sign,
      verify: (message: Uint8Array, mac: Uint8Array) =>
        mac.length === ROOM_MAC_BYTES &&
        timingSafeEqual(sign(message), mac),
    };
  },

  sha256(data) {
    return hashes.sha256(data);
  },
};
