import assert from "node:assert/strict";
import { FrameError } from "../../src/crypto/session_cipher.ts";
import {
  ROOM_FRAME_VERSION,
  type RoomCrypto,
  RoomFrameOpener,
  RoomFrameSealer,
  roomHeader,
  type RoomMac,
  type SealedRoomFrame,
  webRoomCrypto,
} from "../../src/crypto/room_frame.ts";
import { nativeRoomCrypto } from "../../src/crypto/native_room.ts";
import { frameAeadName } from "../../src/crypto/native_aead.ts";

/** docs/PROTOCOL.md A.5, the room frame test vector. */
const VECTOR = {
  key: Uint8Array.from({ length: 32 }, (_, i) => i),
  macKey: Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i),
  epoch: 7,
  counter: 258,
  // A compact public message, form 7: ts 1, id 2, seq 3, from "ann", "hello".
  batch: "0701020303616e6e0568656c6c6f",
  authenticated: "63686174 2f3120726f6f6d206672616d65" + // "chat/1 room frame"
    "03000000070000000000000102" +
    "2dbdcbd8185017532d60cb0145333fb2f82899f8decb25475fc6420b668c789a",
  frame: "03000000070000000000000102" +
    "3a2cff70dff9c42bed2745a414f70841523c4982453f260dfa4a5bd8acaf" +
    "92cf5023b2ef7a06ec117a3f379798799caff40f351b9def7374861efe6d74ca",
};

const PROVIDERS: [string, RoomCrypto][] = [
  ["webRoomCrypto", webRoomCrypto],
  ["nativeRoomCrypto", nativeRoomCrypto],
];

/** A member's copy of `sealed`, its own bytes (not the shared buffer). */
async function copyFor(
  sealed: SealedRoomFrame | Promise<SealedRoomFrame>,
  mac: RoomMac,
): Promise<Uint8Array> {
  return (await (await sealed).frameFor(mac)).slice();
}

function setup(crypto: RoomCrypto, next = 0, epoch = 1) {
  const key = crypto === webRoomCrypto
    ? Uint8Array.from({ length: 32 }, (_, i) => 255 - i)
    : Uint8Array.from({ length: 32 }, (_, i) => i * 3);
  const macKey = new Uint8Array(32).fill(epoch + 40);
  const mac = crypto.mac(macKey);
  const sealer = new RoomFrameSealer(epoch, key, crypto);
  const opener = RoomFrameOpener.create({ epoch, key, next, macKey }, crypto);
  const seal = (counter: number, batch: Uint8Array) =>
    copyFor(sealer.seal(counter, batch), mac);
  return { sealer, opener, key, macKey, mac, seal };
}

async function rejectsWith(promise: Promise<unknown>, reason: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FrameError, String(error));
    assert.equal(error.reason, reason);
    return true;
  });
}

for (const [name, crypto] of PROVIDERS) {
  Deno.test(`RoomFrameSealer with ${name} makes the test vector's bytes`, async () => {
    const sealer = new RoomFrameSealer(VECTOR.epoch, VECTOR.key, crypto);
    const sealed = await sealer.seal(
      VECTOR.counter,
      Uint8Array.fromHex(VECTOR.batch),
    );
    assert.equal(
      sealed.authenticated.toHex(),
      VECTOR.authenticated.replaceAll(" ", ""),
    );
    const frame = await copyFor(sealed, crypto.mac(VECTOR.macKey));
    assert.equal(frame.toHex(), VECTOR.frame);
  });

  Deno.test(`RoomFrameOpener with ${name} opens the test vector`, async () => {
    const opener = RoomFrameOpener.create({
      epoch: VECTOR.epoch,
      key: VECTOR.key,
      next: VECTOR.counter,
      macKey: VECTOR.macKey,
    }, crypto);
    const batch = await opener.open(Uint8Array.fromHex(VECTOR.frame));
    assert.equal(batch.toHex(), VECTOR.batch);
    assert.deepEqual(opener.expected, {
      epoch: VECTOR.epoch,
      counter: VECTOR.counter + 1,
    });
  });

  Deno.test(`RoomFrameOpener with ${name} opens frames in order`, async () => {
    const { seal, opener } = await setup(crypto, 5);
    for (let counter = 5; counter < 8; counter++) {
      const batch = new Uint8Array([counter, 1, 2]);
      assert.deepEqual(await opener.open(await seal(counter, batch)), batch);
    }
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a replayed frame`, async () => {
    const { seal, opener } = await setup(crypto);
    const frame = await seal(0, new Uint8Array([1]));
    await opener.open(frame);
    await rejectsWith(opener.open(frame), "out of sequence");
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a dropped or reordered frame`, async () => {
    const { seal, opener } = await setup(crypto);
    const first = await seal(0, new Uint8Array([1]));
    const second = await seal(1, new Uint8Array([2]));
    await rejectsWith(opener.open(second), "out of sequence");
    // Nothing was accepted: the first is still the one expected.
    assert.deepEqual(await opener.open(first), new Uint8Array([1]));
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a frame of another epoch`, async () => {
    const { key, mac, opener } = await setup(crypto, 0, 1);
    const other = new RoomFrameSealer(2, key, crypto);
    await rejectsWith(
      opener.open(await copyFor(other.seal(0, new Uint8Array([1])), mac)),
      "wrong epoch",
    );
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a frame another member's copy, or one a member forged with the room key`, async () => {
    // Another member holds the room key and its own MAC key, not ours.
    const { key, sealer, opener } = await setup(crypto);
    const theirs = crypto.mac(new Uint8Array(32).fill(7));
    await rejectsWith(
      opener.open(await copyFor(sealer.seal(0, new Uint8Array([1])), theirs)),
      "bad mac",
    );
    const forger = new RoomFrameSealer(1, key, crypto);
    await rejectsWith(
      opener.open(await copyFor(forger.seal(0, new Uint8Array([2])), theirs)),
      "bad mac",
    );
  });

  Deno.test(`RoomFrameOpener with ${name} refuses an altered frame`, async () => {
    const { seal, opener } = await setup(crypto);
    const frame = await seal(0, new Uint8Array([1, 2, 3, 4]));
    // The header, the ciphertext, the tag and the MAC.
    for (const at of [3, 14, frame.length - 40, frame.length - 1]) {
      const altered = frame.slice();
      altered[at]! ^= 1;
      await rejectsWith(
        opener.open(altered),
        at === 3 ? "wrong epoch" : "bad mac",
      );
    }
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a frame with our MAC sealed under another room key`, async () => {
    // MACed for this member but sealed under a key it does not hold:
    // authentication fails, nothing is shown.
    const { mac, opener } = await setup(crypto);
    const stranger = new RoomFrameSealer(1, new Uint8Array(32), crypto);
    await rejectsWith(
      opener.open(await copyFor(stranger.seal(0, new Uint8Array([1])), mac)),
      "authentication failed",
    );
  });

  Deno.test(`RoomFrameOpener with ${name} refuses short frames and other versions`, async () => {
    const { seal, opener } = await setup(crypto);
    const frame = await seal(0, new Uint8Array([1]));
    await rejectsWith(opener.open(frame.subarray(0, 61)), "too short");
    const other = frame.slice();
    other[0] = ROOM_FRAME_VERSION + 1;
    await rejectsWith(opener.open(other), "bad version");
  });

  Deno.test(`RoomFrameOpener.rekey with ${name} moves to the new epoch`, async () => {
    const { seal, opener, macKey, mac } = await setup(crypto);
    await opener.open(await seal(0, new Uint8Array([1])));
    const key = new Uint8Array(32).fill(9);
    opener.rekey({ epoch: 2, key, next: 0, macKey });
    const old = await seal(1, new Uint8Array([2]));
    await rejectsWith(opener.open(old), "wrong epoch");
    const next = new RoomFrameSealer(2, key, crypto);
    assert.deepEqual(
      await opener.open(await copyFor(next.seal(0, new Uint8Array([3])), mac)),
      new Uint8Array([3]),
    );
  });
}

Deno.test("SealedRoomFrame.frameFor gives each member the same bytes but its own MAC", async () => {
  const sealed = await new RoomFrameSealer(
    0,
    new Uint8Array(32),
    nativeRoomCrypto,
  )
    .seal(0, new Uint8Array([1, 2, 3]));
  const a = nativeRoomCrypto.mac(new Uint8Array(32).fill(1));
  const b = nativeRoomCrypto.mac(new Uint8Array(32).fill(2));
  const forA = (sealed.frameFor(a) as Uint8Array).slice();
  const forB = sealed.frameFor(b) as Uint8Array;
  assert.equal(forA.length, sealed.byteLength);
  assert.deepEqual(forA.subarray(0, -32), forB.subarray(0, -32));
  assert.notDeepEqual(forA.subarray(-32), forB.subarray(-32));
  assert.deepEqual(forA.subarray(-32), a.sign(sealed.authenticated));
  // WebCrypto's MAC (asynchronous) gets a copy of its own, the same bytes.
  const web = webRoomCrypto.mac(new Uint8Array(32).fill(1));
  assert.deepEqual(await sealed.frameFor(web), forA);
});

Deno.test("RoomFrameOpener.create refuses a malformed room key", () => {
  assert.throws(
    () =>
      RoomFrameOpener.create({
        epoch: 1,
        key: new Uint8Array(31),
        next: 0,
        macKey: new Uint8Array(32),
      }, webRoomCrypto),
    /not 32 bytes/,
  );
  assert.throws(
    () =>
      RoomFrameOpener.create({
        epoch: 1,
        key: new Uint8Array(32),
        next: 0,
        macKey: new Uint8Array(16),
      }, nativeRoomCrypto),
    /MAC key is not 32 bytes/,
  );
});

Deno.test("RoomFrameSealer.seal refuses an empty batch and a counter out of range", async () => {
  const sealer = new RoomFrameSealer(0, new Uint8Array(32), nativeRoomCrypto);
  await assert.rejects(sealer.seal(0, new Uint8Array(0)), RangeError);
  await assert.rejects(sealer.seal(2 ** 24, new Uint8Array(1)), RangeError);
});

Deno.test("roomHeader writes the version, epoch and counter big-endian", () => {
  assert.equal(
    roomHeader(0x01020304, 2 ** 32 + 5).toHex(),
    "03010203040000000100000005",
  );
});

Deno.test("room frames over 4 KiB open with either provider", async () => {
  const macKey = new Uint8Array(32).fill(5);
  const key = new Uint8Array(32).fill(7);
  const batch = crypto.getRandomValues(new Uint8Array(64 * 1024));
  for (
    const [seal, open] of [[nativeRoomCrypto, webRoomCrypto], [
      webRoomCrypto,
      nativeRoomCrypto,
    ]]
  ) {
    const frame = await copyFor(
      new RoomFrameSealer(3, key, seal!).seal(9, batch),
      seal!.mac(macKey),
    );
    const opener = RoomFrameOpener.create(
      { epoch: 3, key, next: 9, macKey },
      open!,
    );
    assert.deepEqual(await opener.open(frame), batch);
  }
});

Deno.test("nativeRoomCrypto seals and opens a 1 MiB batch synchronously with OpenSSL, as WebCrypto does", async () => {
  // The tests run with --allow-ffi on a system with libcrypto 3: a fallback
  // to node:crypto here would hide the cost this is about.
  assert.equal(frameAeadName, "openssl");
  const key = new Uint8Array(32).fill(9);
  const nonce = new Uint8Array(12).fill(1);
  const aad = new Uint8Array(13).fill(2);
  const batch = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => i * 7);
  const native = await nativeRoomCrypto.cipher(key);
  const sealed = native.seal(nonce, aad, batch);
  assert.ok(sealed instanceof Uint8Array, "sealed without a promise");
  const web = await webRoomCrypto.cipher(key);
  assert.deepEqual(sealed, await web.seal(nonce, aad, batch));
  const opened = native.open(nonce, aad, sealed);
  assert.ok(opened instanceof Uint8Array, "opened without a promise");
  assert.deepEqual(opened, batch);
  sealed[100] = sealed[100]! ^ 1;
  assert.equal(native.open(nonce, aad, sealed), null);
});
