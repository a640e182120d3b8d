/**
 * The session's small frames sealed and opened synchronously by the
 * runtime's native AES-256-GCM through `node:crypto` (a {@link SmallFrameAead}
 * for session_cipher.ts). Frames above {@link SMALL_FRAME_LIMIT} go to
 * WebCrypto. Not browser compatible (node:crypto): a browser client leaves
 * `smallFrames` unset and uses WebCrypto for every frame.
 *
 * Why node:crypto and not WebCrypto for small frames: WebCrypto's AES-GCM is
 * asynchronous, and its promise costs more than the cipher. Measured with
 * `bench/aead_cost.ts` on the 2-core bench machine (Deno 2.9.6), per call:
 * a 60-byte seal ~4 µs here against ~18-36 µs through WebCrypto, 1,000 bytes
 * ~12 against ~20-32, 4,000 bytes ~25-43 against ~21-47 (the two meet near
 * 4 KiB; WebCrypto wins clearly on large buffers). Both allocate about the
 * same per call (~2.2 KB plus the output): node:crypto builds a cipher object
 * (a Node Transform stream) and three small Buffers per frame, and its API
 * offers no way to reuse them or to encrypt into a buffer of ours.
 */

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { loadOpenSslAead } from "./openssl_aead.ts";
import type { FileAead } from "./file_cipher.ts";
import type { SmallFrameAead } from "./session_cipher.ts";

const TAG_BYTES = 16;
const ALGORITHM = "aes-256-gcm";

/** Frames up to this size are sealed here; larger ones go to WebCrypto. */
export const SMALL_FRAME_LIMIT = 4 * 1024;

export const nativeSmallFrames: SmallFrameAead = {
  maxPlaintext: SMALL_FRAME_LIMIT,

  sealInto(key, nonce, aad, plaintext, out, offset) {
    const cipher = createCipheriv(ALGORITHM, key, nonce);
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    out.set(body, offset);
    // GCM is a stream mode: final() adds no bytes, it computes the tag.
    const tail = cipher.final();
    out.set(tail, offset + body.length);
    out.set(cipher.getAuthTag(), offset + body.length + tail.length);
  },

  open(key, nonce, aad, sealed) {
    if (sealed.length < TAG_BYTES) return null;
    const split = sealed.length - TAG_BYTES;
    const decipher = createDecipheriv(ALGORITHM, key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(split));
    const body = decipher.update(sealed.subarray(0, split));
    let tail: Uint8Array;
    try {
      tail = decipher.final();
    } catch {
      return null;
    }
    // The plaintext is the buffer update() made for it (a copy would be one
    // more buffer per frame for the collector). Seen as a plain Uint8Array:
    // a node Buffer's slice() makes a view, not the copy callers count on.
    if (tail.length === 0 && isWholeArrayBuffer(body)) {
      return new Uint8Array(body.buffer, 0, body.byteLength);
    }
    const plaintext = new Uint8Array(body.length + tail.length);
    plaintext.set(body);
    plaintext.set(tail, body.length);
    return plaintext;
  },
};

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

/** Which AES-256-GCM {@link frameAead} is: for the bench's setup line. */
export type FrameAeadName = "openssl" | "node:crypto";

/**
 * The fastest AES-256-GCM this process may use for its frames: OpenSSL
 * through FFI (openssl_aead.ts) when the `ffi` permission is granted, a
 * libcrypto 3 is found and it agrees with node:crypto on a random input at
 * load; else node:crypto for frames up to {@link SMALL_FRAME_LIMIT} (and
 * WebCrypto above). `CHAT_AEAD=node` in the environment forces the latter
 * (to compare the two in one run).
 */
export const { frameAead, frameAeadName, fileAead } = chooseFrameAead();

/*
 * `fileAead`: the same OpenSSL for file chunks (file_cipher.ts), or null
 * where {@link frameAead} is node:crypto: its per-call buffers and software
 * AES make WebCrypto, on its own threads, the better choice for 128 KiB.
 */
function chooseFrameAead(): {
  frameAead: SmallFrameAead;
  frameAeadName: FrameAeadName;
  fileAead: FileAead | null;
} {
  const fallback = {
    frameAead: nativeSmallFrames,
    frameAeadName: "node:crypto",
    fileAead: null,
  } as const;
  if (forcedNode()) return fallback;
  const openssl = loadOpenSslAead();
  if (openssl === null || !agrees(openssl, nativeSmallFrames)) return fallback;
  return { frameAead: openssl, frameAeadName: "openssl", fileAead: openssl };
}

function forcedNode(): boolean {
  try {
    return Deno.env.get("CHAT_AEAD") === "node";
  } catch {
    // No env permission: nothing was asked for.
    return false;
  }
}

/** Whether `a` and `b` seal the same bytes and open each other's frames. */
export function agrees(a: SmallFrameAead, b: SmallFrameAead): boolean {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = randomBytes(13);
  const plaintext = randomBytes(1000);
  try {
    const sealedA = new Uint8Array(plaintext.length + TAG_BYTES);
    const sealedB = new Uint8Array(plaintext.length + TAG_BYTES);
    a.sealInto(key, nonce, aad, plaintext, sealedA, 0);
    b.sealInto(key, nonce, aad, plaintext, sealedB, 0);
    if (!sealedA.every((byte, i) => byte === sealedB[i])) return false;
    const openedByA = a.open(key, nonce, aad, sealedB);
    const openedByB = b.open(key, nonce, aad, sealedA);
    const tampered = sealedA.slice();
    tampered[5] = tampered[5]! ^ 1;
    return openedByA !== null && openedByB !== null &&
      openedByA.every((byte, i) => byte === plaintext[i]) &&
      openedByB.every((byte, i) => byte === plaintext[i]) &&
      a.open(key, nonce, aad, tampered) === null;
  } catch {
    return false;
  }
}
