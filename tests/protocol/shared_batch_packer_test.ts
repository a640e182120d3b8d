import assert from "node:assert/strict";
import { packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { SharedBatchPacker } from "../../src/protocol/shared_batch_packer.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("SharedBatchPacker packs the same messages once for every recipient, and only those", () => {
  const [a, b, c] = [1, 2, 3].map((i) =>
    encodeMessage({ t: "say", id: i }, text(`message ${i}`))
  ) as [Uint8Array, Uint8Array, Uint8Array];
  const packer = new SharedBatchPacker(2);
  const first = packer.pack([a, b, c]);
  assert.deepEqual(first, packBatches([a, b, c]));
  // Another recipient's queue holding the same messages gets the same batch,
  // even in an array of its own.
  assert.equal(packer.pack([a, b, c])[0], first[0]);
  // A different list (a sender does not get its own message back), an equal
  // copy of a message, or another order: packed on their own.
  for (const list of [[a, c], [a, b, c.slice()], [b, a, c]]) {
    const batches = packer.pack(list);
    assert.notEqual(batches[0], first[0]);
    assert.deepEqual(batches, packBatches(list));
  }
  // It remembers the last two lists only.
  assert.notEqual(packer.pack([a, b, c])[0], first[0]);
});

Deno.test("SharedBatchPacker passes one message through, and remembers single batches until the turn's microtasks are done", async () => {
  const message = encodeMessage({ t: "say", id: 1 }, new Uint8Array(100));
  const size = message.byteLength;
  const packer = new SharedBatchPacker(4, size * 2);
  assert.equal(packer.pack([message])[0], message);
  // Three messages make two batches: not remembered.
  const three = [message, message, message];
  const batches = packer.pack(three);
  assert.equal(batches.length, 2);
  assert.notEqual(packer.pack(three)[0], batches[0]);
  // Two make one batch: remembered through the microtasks queued before it
  // (the other recipients' flushes), forgotten after.
  const two = [message, message];
  let during: Uint8Array | undefined;
  queueMicrotask(() => (during = packer.pack(two)[0]));
  const first = packer.pack(two)[0];
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(during, first);
  assert.notEqual(packer.pack(two)[0], first);
});

Deno.test("SharedBatchPacker.packed leaves a list the first recipient's to pack, packs it once when another asks in the same turn, and forgets it after", async () => {
  const [a, b, c] = [1, 2, 3].map((i) =>
    encodeMessage({ t: "say", id: i }, text(`message ${i}`))
  ) as [Uint8Array, Uint8Array, Uint8Array];
  const packer = new SharedBatchPacker(2);
  const list = [a, b, c];
  assert.equal(packer.packed(list), null);
  const second = packer.packed([a, b, c]);
  assert.ok(second !== null);
  assert.deepEqual(second, packBatches(list)[0]);
  assert.equal(packer.packed([a, b, c]), second);
  // pack() finds the same batch, and packed() finds one pack() made.
  assert.equal(packer.pack([a, b, c])[0], second);
  const packedBefore = packer.pack([b, c]);
  assert.equal(packer.packed([b, c]), packedBefore[0]);
  // Other lists are not taken for it.
  assert.equal(packer.packed([a, c]), null);
  assert.equal(packer.packed([a, b, c.slice()]), null);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(packer.packed([a, c]), null, "forgotten after the turn");
});
