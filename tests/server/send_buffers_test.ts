import assert from "node:assert/strict";
import { SendBuffers } from "../../src/server/send_buffers.ts";

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

Deno.test("SendBuffers frees small copies and whatever is past its idle cap once written", () => {
  const pool = new SendBuffers(128 * 1024);
  const small = pool.copy(new Uint8Array(20_000));
  pool.written(small);
  assert.equal(small.length, 0, "freed");
  assert.equal(pool.idleBytes, 0);
  const a = pool.copy(new Uint8Array(100_000));
  const b = pool.copy(new Uint8Array(100_000));
  pool.written(a);
  pool.written(b);
  assert.equal(pool.idleBytes, 128 * 1024);
  assert.equal(a.length, 100_000, "kept");
  assert.equal(b.length, 0, "past the cap: freed");
});
