import assert from "node:assert/strict";
import { ChunkBuffers } from "../../src/client/chunk_buffers.ts";
import { RELEASE_MIN_BYTES } from "../../src/crypto/bytes.ts";

/** Large enough to be freed at once (releaseBuffer), as a chunk's buffer is. */
const SIZE = RELEASE_MIN_BYTES;

Deno.test("ChunkBuffers lends a handed-back buffer again, and a fresh one while none is", () => {
  const buffers = new ChunkBuffers(SIZE, 2);
  const a = buffers.lend();
  const b = buffers.lend();
  assert.equal(a.bytes.length, SIZE);
  assert.notEqual(a.bytes.buffer, b.bytes.buffer);
  a.handBack();
  assert.equal(buffers.spares, 1);
  const c = buffers.lend();
  assert.equal(c.bytes.buffer, a.bytes.buffer, "the spare was not reused");
  const d = buffers.lend();
  assert.notEqual(d.bytes.buffer, a.bytes.buffer);
  assert.notEqual(d.bytes.buffer, b.bytes.buffer);
});

Deno.test("ChunkBuffers never lends a buffer still out: a second hand-back of a lending does nothing", () => {
  const buffers = new ChunkBuffers(SIZE, 4);
  const first = buffers.lend();
  first.handBack();
  // Lent again, so being written: the stale hand-back must not free it.
  const again = buffers.lend();
  assert.equal(again.bytes.buffer, first.bytes.buffer);
  first.handBack();
  assert.equal(buffers.spares, 0);
  const other = buffers.lend();
  assert.notEqual(other.bytes.buffer, again.bytes.buffer);
  // And twice from the same lending: kept once.
  again.handBack();
  again.handBack();
  assert.equal(buffers.spares, 1);
});

Deno.test("ChunkBuffers keeps at most its bound of spares, frees the others, and keeps none that was freed", () => {
  const buffers = new ChunkBuffers(SIZE, 2);
  const lent = [buffers.lend(), buffers.lend(), buffers.lend()];
  for (const { handBack } of lent) handBack();
  assert.equal(buffers.spares, 2);
  // The one over the bound is freed at once, not left to the collector.
  assert.equal(lent[2]!.bytes.length, 0);
  buffers.lend();
  buffers.lend();
  const freed = buffers.lend();
  freed.bytes.buffer.transfer(0);
  freed.handBack();
  assert.equal(buffers.spares, 0);
});

Deno.test("ChunkBuffers.free frees the spares, and each buffer handed back after it", () => {
  const buffers = new ChunkBuffers(SIZE, 4);
  const spare = buffers.lend();
  const late = buffers.lend();
  spare.handBack();
  buffers.free();
  assert.equal(buffers.spares, 0);
  assert.equal(spare.bytes.length, 0);
  assert.equal(late.bytes.length, SIZE, "freed while still lent");
  late.handBack();
  assert.equal(buffers.spares, 0);
  assert.equal(late.bytes.length, 0);
});
