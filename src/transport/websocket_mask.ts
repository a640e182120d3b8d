// This module is browser compatible.

/**
 * WebSocket masking (RFC 6455 5.3): each payload byte XORed with the frame's
 * 4-byte key, repeating. Framing, not a cipher. The server unmasks what
 * clients send with it (src/server/ws_mask_hook.ts), and the terminal client
 * masks what it sends (websocket_frames.ts).
 *
 * `ws` does this one byte at a time in JavaScript (its native add-on,
 * bufferutil, is not picked up under Deno): every byte a
 * client sends to the server passes through it, so on a file transfer it was
 * one of the server's largest costs. XORing 32-bit words over an aligned
 * view of the same bytes does the same work several times faster on large
 * buffers.
 */

/** Below this, the setup of the word loop costs more than it saves. */
const WORD_MIN_BYTES = 32;

// The key as one 32-bit word in the platform's byte order, for any rotation.
const keyBytes = new Uint8Array(4);
const keyWord = new Int32Array(keyBytes.buffer);

/**
 * XORs `buffer` in place with `mask` (4 bytes), the first byte with
 * `mask[0]`: unmasks a received payload (and masks one to send).
 */
export function unmask(buffer: Uint8Array, mask: Uint8Array): void {
  const n = buffer.length;
  if (n < WORD_MIN_BYTES) {
    for (let i = 0; i < n; i++) buffer[i]! ^= mask[i & 3]!;
    return;
  }
  // Bytes up to the first 4-byte boundary of the underlying buffer, then
  // words, then what is left.
  const head = (4 - (buffer.byteOffset & 3)) & 3;
  for (let i = 0; i < head; i++) buffer[i]! ^= mask[i & 3]!;
  const words = (n - head) >>> 2;
  for (let k = 0; k < 4; k++) keyBytes[k] = mask[(head + k) & 3]!;
  const key = keyWord[0]!;
  const view = new Int32Array(buffer.buffer, buffer.byteOffset + head, words);
  // Unrolled by 8: about 1.5x the plain loop in V8.
  const whole = words & ~7;
  let i = 0;
  for (; i < whole; i += 8) {
    view[i]! ^= key;
    view[i + 1]! ^= key;
    view[i + 2]! ^= key;
    view[i + 3]! ^= key;
    view[i + 4]! ^= key;
    view[i + 5]! ^= key;
    view[i + 6]! ^= key;
    view[i + 7]! ^= key;
  }
  for (; i < words; i++) view[i]! ^= key;
  for (let j = head + words * 4; j < n; j++) buffer[j]! ^= mask[j & 3]!;
}

/**
 * Writes `length` bytes of `source` XORed with `mask` into `output` from
 * `offset` (`ws`'s signature for masking a frame a client sends).
 */
export function mask(
  source: Uint8Array,
  mask: Uint8Array,
  output: Uint8Array,
  offset: number,
  length: number,
): void {
  const target = output.subarray(offset, offset + length);
  target.set(source.subarray(0, length));
  unmask(target, mask);
}
