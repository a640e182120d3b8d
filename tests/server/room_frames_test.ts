import assert from "node:assert/strict";
import { fromBase64 } from "../../src/crypto/bytes.ts";
import { nativeRoomCrypto } from "../../src/crypto/native_room.ts";
import { RoomFrameOpener } from "../../src/crypto/room_frame.ts";
import { QueueGauge } from "../../src/server/backpressure.ts";
import { RoomFrames } from "../../src/server/room_frames.ts";

async function roomFrames(minBytes: number, framesPerKey?: number) {
  const queued = new QueueGauge(0, 0);
  const room = new RoomFrames({
    crypto: nativeRoomCrypto,
    signer: await nativeRoomCrypto.signer(),
    minBytes,
    queued,
    ...(framesPerKey === undefined ? {} : { framesPerKey }),
  });
  return { room, queued };
}

function opener(room: RoomFrames): Promise<RoomFrameOpener> {
  const key = room.keyMessage();
  return RoomFrameOpener.create({
    key: fromBase64(key.key),
    epoch: key.epoch,
    next: key.next,
    signingKey: fromBase64(key.sig_key),
  }, nativeRoomCrypto);
}

Deno.test("RoomFrames gives counters to room frames in the order batches were made, none to small ones", async () => {
  const { room } = await roomFrames(4);
  const open = await opener(room);
  const frames: (Uint8Array | null)[] = [];
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
  assert.equal(room.keyMessage().next, 1);
  // The batch was sealed with counter 0 even if a channel asks only now.
  const early = await opener(room);
  const { batch: next } = room.start();
  next.hold();
  next.add(new Uint8Array([2]));
  assert.deepEqual(
    await early.open((await next.frame())!),
    new Uint8Array([2]),
  );
});

Deno.test("RoomFrames starts a new epoch with a new key once the key's frames are used", async () => {
  const { room } = await roomFrames(1, 2);
  const keys = [room.keyMessage()];
  for (let i = 0; i < 3; i++) {
    const { batch, rekeyed } = room.start();
    batch.add(new Uint8Array([i]));
    await batch.frame();
    if (rekeyed !== null) keys.push(rekeyed);
  }
  assert.equal(keys.length, 2);
  assert.equal(keys[1]!.epoch, keys[0]!.epoch + 1);
  assert.equal(keys[1]!.next, 0);
  assert.notEqual(keys[1]!.key, keys[0]!.key);
  assert.equal(keys[1]!.sig_key, keys[0]!.sig_key);
});

Deno.test("RoomBatch counts its bytes once, until the last channel drops it", async () => {
  const { room, queued } = await roomFrames(1);
  const { batch } = room.start();
  batch.hold();
  batch.hold();
  batch.add(new Uint8Array(100));
  batch.add(new Uint8Array(50));
  assert.equal(queued.bytes, 150);
  await batch.frame();
  batch.drop();
  assert.equal(queued.bytes, 150);
  batch.drop();
  assert.equal(queued.bytes, 0);
});
