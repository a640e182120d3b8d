/**
 * Room-frame primitives (room_frame.ts's {@link RoomCrypto}) from the
 * runtime's native crypto through `node:crypto`, called synchronously: the
 * server signs, and every Deno client verifies, one room frame per batch,
 * and WebCrypto's promise costs more than the work. Measured on the 2-core
 * bench machine (Deno 2.9.6), per call on a 64-byte message: Ed25519 sign
 * 18.5 µs and verify 39 µs here, against 58 and 68 µs through WebCrypto.
 * AES-GCM over batches above 4 KiB goes to WebCrypto (see `cipher`).
 * Not browser compatible (node:crypto): the web page uses `webRoomCrypto`.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { Buffer } from "node:buffer";
import {
  ed25519Pkcs8,
  type RoomCipher,
  type RoomCrypto,
  webRoomCrypto,
} from "./room_frame.ts";
import { SMALL_FRAME_LIMIT } from "./native_aead.ts";

const ALGORITHM = "aes-256-gcm";
const TAG_BYTES = 16;

export const nativeRoomCrypto: RoomCrypto = {
  cipher(key) {
    const raw = key.slice();
    // Large batches go to WebCrypto: its AES-GCM is about twice as fast on
    // large buffers and runs off the main thread (native_aead.ts measures
    // where the two meet, about 4 KiB).
    let web: RoomCipher | Promise<RoomCipher> | null = null;
    const large = () => (web ??= webRoomCrypto.cipher(raw));
    return {
      seal(nonce, aad, plaintext) {
        if (plaintext.length > SMALL_FRAME_LIMIT) {
          return Promise.resolve(large()).then((c) =>
            c.seal(nonce, aad, plaintext)
          );
        }
        const cipher = createCipheriv(ALGORITHM, raw, nonce);
        cipher.setAAD(aad);
        const body = cipher.update(plaintext);
        const tail = cipher.final();
        const out = new Uint8Array(body.length + tail.length + TAG_BYTES);
        out.set(body);
        out.set(tail, body.length);
        out.set(cipher.getAuthTag(), body.length + tail.length);
        return out;
      },
      open(nonce, aad, sealed) {
        if (sealed.length < TAG_BYTES) return null;
        if (sealed.length - TAG_BYTES > SMALL_FRAME_LIMIT) {
          return Promise.resolve(large()).then((c) =>
            c.open(nonce, aad, sealed)
          );
        }
        const split = sealed.length - TAG_BYTES;
        const decipher = createDecipheriv(ALGORITHM, raw, nonce);
        decipher.setAAD(aad);
        decipher.setAuthTag(sealed.subarray(split));
        const body = decipher.update(sealed.subarray(0, split));
        let tail: Uint8Array;
        try {
          tail = decipher.final();
        } catch {
          return null;
        }
        const out = new Uint8Array(body.length + tail.length);
        out.set(body);
        out.set(tail, body.length);
        return out;
      },
    };
  },

  signer(seed) {
    let privateKey: KeyObject;
    let publicKey: KeyObject;
    if (seed === undefined) {
      ({ privateKey, publicKey } = generateKeyPairSync("ed25519"));
    } else {
      privateKey = createPrivateKey({
        key: Buffer.from(ed25519Pkcs8(seed)),
        format: "der",
        type: "pkcs8",
      });
      publicKey = createPublicKey(privateKey);
    }
    const jwk = publicKey.export({ format: "jwk" });
    return Promise.resolve({
      publicKey: Uint8Array.fromBase64(jwk.x ?? "", { alphabet: "base64url" }),
      sign: (message: Uint8Array) =>
        new Uint8Array(sign(null, message, privateKey)),
    });
  },

  verifier(raw) {
    try {
      const key = createPublicKey({
        key: {
          kty: "OKP",
          crv: "Ed25519",
          x: raw.toBase64({ alphabet: "base64url", omitPadding: true }),
        },
        format: "jwk",
      });
      return Promise.resolve({
        verify: (message: Uint8Array, signature: Uint8Array) =>
          verify(null, message, key, signature),
      });
    } catch (error) {
      return Promise.reject(error);
    }
  },

  sha256(data) {
    return new Uint8Array(createHash("sha256").update(data).digest());
  },
};
