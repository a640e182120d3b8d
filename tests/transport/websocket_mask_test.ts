import assert from "node:assert/strict";
import { mask, unmask } from "../../src/transport/websocket_mask.ts";

/** RFC 6455 5.3 byte by byte, as `ws`'s own `_unmask` does it. */
function reference(buffer: Uint8Array, key: Uint8Array): void {
  for (let i = 0; i < buffer.length; i++) buffer[i]! ^= key[i & 3]!;
}

function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
  }
  return bytes;
}

/** A view of `n` random bytes at `offset` into a larger buffer. */
function randomView(n: number, offset: number): Uint8Array {
  return randomBytes(offset + n + 5).subarray(offset, offset + n);
}

Deno.test("unmask XORs like the byte loop at every length 0-70000 and every alignment, and leaves the bytes around alone", () => {
  const lengths = [0, 1, 3, 4, 5, 23, 24, 31, 32, 33, 63, 64, 65, 65535, 65536];
  for (let i = 0; i < 120; i++) {
    lengths.push(Math.floor(Math.random() * 70001));
  }
  for (const n of lengths) {
    for (let offset = 0; offset < 8; offset++) {
      const key = randomBytes(4);
      const view = randomView(n, offset);
      const whole = new Uint8Array(view.buffer);
      const expected = whole.slice();
      reference(expected.subarray(offset, offset + n), key);
      unmask(view, key);
      assert.deepEqual(whole, expected, `length ${n}, offset ${offset}`);
    }
  }
});

Deno.test("unmask undoes itself", () => {
  const key = randomBytes(4);
  const original = randomView(70000, 3);
  const copy = original.slice();
  unmask(copy, key);
  assert.notDeepEqual(copy, original);
  unmask(copy, key);
  assert.deepEqual(copy, original);
});

Deno.test("mask writes source XOR key at the offset, leaving the source and the rest of the output alone", () => {
  for (const n of [0, 7, 24, 100, 4099, 70000]) {
    const key = randomBytes(4);
    const source = randomBytes(n + 9);
    const sourceBefore = source.slice();
    const output = randomBytes(n + 20);
    const expected = output.slice();
    for (let i = 0; i < n; i++) expected[6 + i] = source[i]! ^ key[i & 3]!;
    mask(source, key, output, 6, n);
    assert.deepEqual(output, expected, `length ${n}`);
    assert.deepEqual(source, sourceBefore);
  }
});
