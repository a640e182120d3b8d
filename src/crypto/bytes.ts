// This module is browser compatible.

/**
 * Byte helpers for the crypto layer.
 *
 * Everything returned here is backed by a plain `ArrayBuffer`, so it can go
 * straight into `crypto.subtle` (whose `BufferSource` excludes views over a
 * `SharedArrayBuffer`).
 */

const BASE64_ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Character code -> 6-bit value, or -1 for anything outside the alphabet. */
const BASE64_VALUES: Int16Array = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < BASE64_ALPHABET.length; i++) {
    table[BASE64_ALPHABET.charCodeAt(i)] = i;
  }
  return table;
})();

const HEX_DIGITS = "0123456789abcdef";

/** `crypto.getRandomValues` refuses requests above this many bytes. */
const MAX_RANDOM_CHUNK = 65_536;

/** Joins byte arrays into one new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Standard base64 (RFC 4648 section 4) with `=` padding. */
export function toBase64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += BASE64_ALPHABET[n >>> 18]! + BASE64_ALPHABET[(n >>> 12) & 63]! +
      BASE64_ALPHABET[(n >>> 6) & 63]! + BASE64_ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += BASE64_ALPHABET[n >>> 18]! + BASE64_ALPHABET[(n >>> 12) & 63]! +
      "==";
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += BASE64_ALPHABET[n >>> 18]! + BASE64_ALPHABET[(n >>> 12) & 63]! +
      BASE64_ALPHABET[(n >>> 6) & 63]! + "=";
  }
  return out;
}

/**
 * Decodes standard padded base64, strictly: no whitespace, no URL-safe
 * characters, no missing or extra padding, and no non-zero bits hidden in the
 * last character. Strictness keeps every byte string to exactly one encoding,
 * so encoded fields cannot be malleated on the wire.
 *
 * @throws {TypeError} if `text` is not canonical base64
 */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 4 !== 0) {
    throw new TypeError(
      `Invalid base64: length ${text.length} is not a multiple of 4`,
    );
  }
  let padding = 0;
  if (text.endsWith("==")) padding = 2;
  else if (text.endsWith("=")) padding = 1;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  const values = [0, 0, 0, 0];
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    for (let j = 0; j < 4; j++) {
      const code = text.charCodeAt(i + j);
      if (last && j >= 4 - padding) {
        values[j] = 0; // checked to be "=" by the padding detection above
        continue;
      }
      const value = code < 128 ? BASE64_VALUES[code]! : -1;
      if (value < 0) {
        throw new TypeError(
          `Invalid base64: unexpected character at offset ${i + j}`,
        );
      }
      values[j] = value;
    }
    const n = (values[0]! << 18) | (values[1]! << 12) | (values[2]! << 6) |
      values[3]!;
    if (last && padding === 2 && (n & 0xffff) !== 0) {
      throw new TypeError("Invalid base64: non-zero padding bits");
    }
    if (last && padding === 1 && (n & 0xff) !== 0) {
      throw new TypeError("Invalid base64: non-zero padding bits");
    }
    out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}

/** Lowercase hexadecimal. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) {
    out += HEX_DIGITS[byte >>> 4]! + HEX_DIGITS[byte & 15]!;
  }
  return out;
}

/**
 * A 32-bit unsigned integer as 4 big-endian bytes.
 *
 * @throws {RangeError} if `n` is not an integer in [0, 2^32)
 */
export function u32be(n: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new RangeError(`Cannot encode ${n} as a 32-bit unsigned integer`);
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/**
 * Compares two byte arrays in time that depends only on their lengths, so a
 * MAC check leaks nothing about where a forged tag first differs. Lengths are
 * public (they come from the wire format), so unequal lengths return early.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string (lone surrogates become U+FFFD). */
export function utf8Encode(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** `n` bytes from the platform's cryptographically secure generator. */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += MAX_RANDOM_CHUNK) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + MAX_RANDOM_CHUNK)));
  }
  return out;
}

/**
 * `bytes` typed for `crypto.subtle`: itself when backed by an `ArrayBuffer`,
 * otherwise a copy (only a `SharedArrayBuffer` view needs one).
 */
export function arrayBufferBacked(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}

/** Buffers smaller than this are left to the garbage collector. */
export const RELEASE_MIN_BYTES = 16 * 1024;

/**
 * Frees the memory behind a buffer that nothing will read again, now rather
 * than at V8's next collection, by detaching it. V8 collects dead
 * ArrayBuffers only once ~64 MiB of them have piled up, and a file relayed in
 * 64 KiB chunks leaves several dead buffers per chunk (socket copy, plaintext,
 * re-encoded message, ciphertext, frame): without this every process in a
 * transfer holds tens of MiB of garbage at its peak. Small buffers are left
 * alone (they cost the collector little), as are buffers that cannot be
 * detached (shared, resizable, or on runtimes without `transfer`).
 *
 * Every view of the buffer reads as empty afterwards: call it only on buffers
 * this code created or was handed for good.
 */
export function releaseBuffer(buffer: ArrayBufferLike): void {
  if (
    buffer.byteLength >= RELEASE_MIN_BYTES &&
    buffer instanceof ArrayBuffer &&
    !buffer.resizable &&
    typeof buffer.transfer === "function"
  ) {
    buffer.transfer(0);
  }
}
