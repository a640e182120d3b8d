import assert from "node:assert/strict";
import { fromBase64 } from "../../src/crypto/bytes.ts";
import { nativeRoomCrypto } from "../../src/crypto/native_room.ts";
import {
  RoomFrameOpener,
  type SealedRoomFrame,
} from "../../src/crypto/room_frame.ts";
import { QueueGauge } from "../../src/server/backpressure.ts";
import { RoomBatch, RoomFrames } from "../../src/server/room_frames.ts";

function roomFrames(minBytes: number, framesPerKey?: number) {
  const queued = new QueueGauge(0, 0);
  const room = new RoomFrames({
    crypto: nativeRoomCrypto,
    minBytes,
    queued,
    ...(framesPerKey === undefined ? {} : { framesPerKey }),
  });
  return { room, queued };
}

/** A member joining now: its opener, and its copy of a sealed frame. */
function opener(room: RoomFrames) {
  const member = room.memberKey();
  const key = room.keyMessage(member.key);
  const opener = RoomFrameOpener.create({
    key: fromBase64(key.key),
    epoch: key.epoch,
    next: key.next,
    macKey: fromBase64(key.mac_key),
  }, nativeRoomCrypto);
  return {
    open: async (sealed: SealedRoomFrame | null) =>
      await opener.open((await sealed!.frameFor(member.mac)).slice()),
  };
}

Deno.test("RoomFrames gives counters to room frames in the order batches were made, none to small ones", async () => {
  const { room } = await roomFrames(4);
  const open = opener(room);
  const frames: (SealedRoomFrame | null)[] = [];
  for (const bytes of [[1, 2, 3, 4], [5], [6, 7, 8, 9]]) {
    const { batch } = room.start();
    batch.hold();
    batch.add(new Uint8Array(bytes));
    frames.push(await batch.frame());
    assert.deepEqual(batch.messages, new Uint8Array(bytes));
  }
  assert.equal(frames[1], null, "a small batch is left to the channels");
  assert.deepEqual(await open.open(frames[0]!), new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(await open.open(frames[2]!), new Uint8Array([6, 7, 8, 9]));
});

Deno.test("RoomFrames.close decides the open batch, so a member joining next is told the right counter", async () => {
  const { room } = await roomFrames(1);
  const { batch } = room.start();
  batch.hold();
  batch.add(new Uint8Array([1]));
  assert.equal(room.openBatch(1), batch);
  room.close();
  assert.equal(room.openBatch(1), null);
  assert.equal(batch.open, false);
  assert.equal(room.keyMessage(room.memberKey().key).next, 1);
  // The batch was sealed with counter 0 even if a channel asks only now.
  const early = opener(room);
  const { batch: next } = room.start();
  next.hold();
  next.add(new Uint8Array([2]));
  assert.deepEqual(await early.open(await next.frame()), new Uint8Array([2]));
});

Deno.test("RoomFrames starts a new epoch with a new key once the key's frames are used", async () => {
  const { room } = await roomFrames(1, 2);
  const macKey = room.memberKey().key;
  const keys = [room.keyMessage(macKey)];
  for (let i = 0; i < 3; i++) {
    const { batch, rekeyed } = room.start();
    // As Delivery does: told before the batch, which takes counter 0.
    if (rekeyed) keys.push(room.keyMessage(macKey));
    batch.add(new Uint8Array([i]));
    await batch.frame();
  }
  assert.equal(keys.length, 2);
  assert.equal(keys[1]!.epoch, keys[0]!.epoch + 1);
  assert.equal(keys[1]!.next, 0);
  assert.notEqual(keys[1]!.key, keys[0]!.key);
  // A member keeps its MAC key across epochs.
  assert.equal(keys[1]!.mac_key, keys[0]!.mac_key);
});

Deno.test("RoomBatch counts its bytes once per holder, each holder's share until it drops it", async () => {
  const { room, queued } = await roomFrames(1);
  const { batch } = room.start();
  batch.add(new Uint8Array(100));
  assert.equal(queued.bytes, 0, "nobody holds it yet");
  batch.hold();
  batch.hold();
  assert.equal(queued.bytes, 200);
  batch.add(new Uint8Array(50));
  assert.equal(queued.bytes, 300);
  batch.hold();
  assert.equal(queued.bytes, 450);
  await batch.frame();
  batch.drop();
  assert.equal(queued.bytes, 300);
  batch.drop();
  assert.equal(queued.bytes, 150);
  batch.drop();
  assert.equal(queued.bytes, 0);
  assert.equal(queued.peak, 450);
});

Deno.test("RoomBatch takes off what a holder that left early counted, and no more", () => {
  const { batch } = new RoomFrames({ crypto: nativeRoomCrypto }).start();
  const queued = new QueueGauge(0, 0);
  const counted = new RoomBatch(batch.stream, batch.owner, queued);
  counted.hold();
  counted.hold();
  counted.add(new Uint8Array(10));
  // One channel ends while the batch is still open...
  counted.drop();
  assert.equal(queued.bytes, 10);
  // ...so what joins later counts once.
  counted.add(new Uint8Array(5));
  assert.equal(queued.bytes, 15);
  counted.drop();
  assert.equal(queued.bytes, 0);
});
