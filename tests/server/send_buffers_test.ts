import assert from "node:assert/strict";
import { SendBuffers, sizeClass } from "../../src/server/send_buffers.ts";

Deno.test("SendBuffers.copy copies, and a written buffer carries the next frame of its size class", () => {
  const pool = new SendBuffers();
  const frame = Uint8Array.from({ length: 262_234 }, (_, i) => i * 7);
  const first = pool.copy(frame);
  assert.deepEqual(first, frame);
  assert.notEqual(first.buffer, frame.buffer);
  pool.written(first);
  assert.equal(pool.idleBytes, 320 * 1024);
  const next = Uint8Array.from({ length: 300_000 }, (_, i) => i * 13);
  const second = pool.copy(next);
  assert.equal(second.buffer, first.buffer, "reused");
  assert.deepEqual(second, next);
  assert.equal(pool.idleBytes, 0);
  // Another size class gets a buffer of its own.
  const other = pool.copy(new Uint8Array(70_000));
  assert.notEqual(other.buffer, first.buffer);
});

Deno.test("SendBuffers reuses small buffers too, and frees whatever is past its idle cap once written", () => {
  const pool = new SendBuffers(256 + 128 * 1024);
  const small = pool.copy(Uint8Array.from({ length: 150 }, (_, i) => i));
  assert.equal(small.buffer.byteLength, 256);
  pool.written(small);
  assert.equal(pool.idleBytes, 256);
  const frame = Uint8Array.from({ length: 200 }, (_, i) => 255 - i);
  const again = pool.copy(frame);
  assert.equal(again.buffer, small.buffer, "reused");
  assert.deepEqual(again, frame);
  assert.equal(pool.idleBytes, 0);
  pool.written(again);
  const a = pool.copy(new Uint8Array(100_000));
  const b = pool.copy(new Uint8Array(100_000));
  pool.written(a);
  pool.written(b);
  assert.equal(pool.idleBytes, 256 + 128 * 1024);
  assert.equal(a.length, 100_000, "kept");
  assert.equal(b.length, 0, "past the cap: freed");
});

Deno.test("sizeClass is a power of two from 256 bytes, then a multiple of 64 KiB", () => {
  assert.equal(sizeClass(1), 256);
  assert.equal(sizeClass(256), 256);
  assert.equal(sizeClass(257), 512);
  assert.equal(sizeClass(40_000), 65_536);
  assert.equal(sizeClass(65_536), 65_536);
  assert.equal(sizeClass(65_537), 131_072);
  assert.equal(sizeClass(262_234), 320 * 1024);
});

Deno.test("SendBuffers.take falls back to an idle buffer up to two classes larger, not three", () => {
  const pool = new SendBuffers();
  const big = pool.take(4000);
  assert.equal(big.buffer.byteLength, 4096);
  pool.written(big);
  // 1,000 bytes: class 1 KiB, then 2 KiB, then 4 KiB: the idle 4 KiB one.
  const taken = pool.take(1000);
  assert.equal(taken.buffer, big.buffer, "reused");
  assert.equal(taken.byteLength, 1000);
  assert.equal(pool.idleBytes, 0);
  // Back to its own class (4 KiB), where 500 bytes (512, 1 KiB, 2 KiB)
  // do not look.
  pool.written(taken);
  assert.equal(pool.idleBytes, 4096);
  const small = pool.take(500);
  assert.equal(small.buffer.byteLength, 512);
  assert.equal(pool.idleBytes, 4096);
});

Deno.test("SendBuffers, once its idle cap is reached, frees the buffers of the sizes used least recently to keep those used now", () => {
  const pool = new SendBuffers(256 * 1024);
  // Eight idle buffers of 32 KiB fill the cap.
  const smaller = Array.from({ length: 8 }, () => pool.take(30_000));
  for (const buffer of smaller) pool.written(buffer);
  assert.equal(pool.idleBytes, 256 * 1024);
  // The traffic moves on to 100 KB frames (out of reach of 32 KiB buffers).
  const larger = [pool.take(100_000), pool.take(100_000)];
  for (const buffer of larger) pool.written(buffer);
  assert.equal(pool.idleBytes, 256 * 1024);
  // (Freed at once: detached, as buffers of 16 KiB and more are.)
  assert.ok(smaller.every((b) => b.length === 0), "32 KiB ones freed");
  assert.ok(larger.every((b) => b.length === 100_000), "128 KiB ones kept");
  // A buffer of a class used less recently than the idle ones is not kept
  // at their expense.
  const old = pool.take(10_000);
  const again = pool.take(100_000);
  assert.equal(again.buffer, larger[1]!.buffer, "reused");
  pool.written(again);
  pool.written(old);
  assert.equal(old.length, 0, "freed");
  assert.equal(pool.idleBytes, 256 * 1024);
});
