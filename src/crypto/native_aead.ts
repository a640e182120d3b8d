/**
 * AES-256-GCM for the session's small frames, computed synchronously on the
 * calling thread: frames up to {@link JS_FRAME_LIMIT} bytes in TypeScript
 * (`aes_gcm.ts`), larger ones up to {@link SMALL_FRAME_LIMIT} through
 * `node:crypto`. Not browser compatible (node:crypto): a browser client
 * leaves `smallFrames` unset and uses WebCrypto for every frame (see
 * aes_gcm.ts on the side channels of table-based AES in a browser).
 *
 * Measured on the 2-core bench machine (Deno 2.9.6), sealing with a 9-byte
 * header as AAD: 60 bytes 1.1 µs in TypeScript against 3.5 µs through
 * node:crypto, 200 bytes 2.8 against 5.2, 1,000 bytes 12.9 against 7.4;
 * WebCrypto's asynchronous call costs ~14-24 µs whatever the size, and is
 * faster from about 4 KiB (~1 GB/s on large buffers against ~0.26). The
 * TypeScript path also allocates nothing per frame, where node:crypto makes a
 * cipher object and two or three ArrayBuffers (see aes_gcm.ts for why that
 * matters more than the microseconds).
 */

import { createCipheriv, createDecipheriv } from "node:crypto";
import { AesGcmKey, JS_SMALL_FRAME_LIMIT } from "./aes_gcm.ts";
import type { SmallFrameAead, SmallFrameKey } from "./session_cipher.ts";

const TAG_BYTES = 16;

/** Frames up to this size are sealed here; larger ones go to WebCrypto. */
export const SMALL_FRAME_LIMIT = 4 * 1024;

/** Frames up to this size are sealed in TypeScript, larger through node:crypto. */
export const JS_FRAME_LIMIT = JS_SMALL_FRAME_LIMIT;

export const nativeSmallFrames: SmallFrameAead = {
  maxPlaintext: SMALL_FRAME_LIMIT,
  forKey: (rawKey) => new NativeFrameKey(rawKey),
};

class NativeFrameKey implements SmallFrameKey {
  readonly #rawKey: Uint8Array;
  #js: AesGcmKey | null = null;

  constructor(rawKey: Uint8Array) {
    this.#rawKey = rawKey;
  }

  get #jsKey(): AesGcmKey {
    return this.#js ??= new AesGcmKey(this.#rawKey);
  }

  sealInto(
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void {
    if (plaintext.length <= JS_FRAME_LIMIT) {
      this.#jsKey.sealInto(nonce, aad, plaintext, out, offset);
      return;
    }
    const cipher = createCipheriv("aes-256-gcm", this.#rawKey, nonce);
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    out.set(body, offset);
    const tail = cipher.final();
    out.set(tail, offset + body.length);
    out.set(cipher.getAuthTag(), offset + body.length + tail.length);
  }

  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Uint8Array<ArrayBuffer> | null {
    if (sealed.length < TAG_BYTES) return null;
    const split = sealed.length - TAG_BYTES;
    if (split <= JS_FRAME_LIMIT) return this.#jsKey.open(nonce, aad, sealed);
    const decipher = createDecipheriv("aes-256-gcm", this.#rawKey, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(split));
    const body = decipher.update(sealed.subarray(0, split));
    let tail: Uint8Array;
    try {
      tail = decipher.final();
    } catch {
      return null;
    }
    // GCM is a stream mode: final() adds nothing, and the plaintext is the
    // buffer update() made for it (a copy would be one more buffer per
    // frame for the collector). Seen as a plain Uint8Array: a node Buffer's
    // slice() makes a view, not the copy callers count on.
    if (tail.length === 0 && isWholeArrayBuffer(body)) {
      return new Uint8Array(body.buffer, 0, body.byteLength);
    }
    const plaintext = new Uint8Array(body.length + tail.length);
    plaintext.set(body);
    plaintext.set(tail, body.length);
    return plaintext;
  }
}

/**
 * Whether `bytes` is all of an ArrayBuffer of its own: what the caller may
 * keep, and free (a view into a shared slab, as Buffer pools make, is not).
 */
function isWholeArrayBuffer(
  bytes: Uint8Array,
): bytes is Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength;
}
