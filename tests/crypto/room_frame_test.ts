import assert from "node:assert/strict";
import { FrameError } from "../../src/crypto/session_cipher.ts";
import {
  ROOM_FRAME_VERSION,
  type RoomCrypto,
  RoomFrameOpener,
  RoomFrameSealer,
  roomHeader,
  webRoomCrypto,
} from "../../src/crypto/room_frame.ts";
import { nativeRoomCrypto } from "../../src/crypto/native_room.ts";
import { frameAeadName } from "../../src/crypto/native_aead.ts";

/** docs/PROTOCOL.md A.5, the room frame test vector. */
const VECTOR = {
  key: Uint8Array.from({ length: 32 }, (_, i) => i),
  seed: Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i),
  signingKey:
    "2543b92ff1095511476adc8369db6ddc933665a11978dda1404ee1066ca9559d",
  epoch: 7,
  counter: 258,
  // A compact public message, form 7: ts 1, id 2, seq 3, from "ann", "hello".
  batch: "0701020303616e6e0568656c6c6f",
  frame: "03000000070000000000000102" +
    "3a2cff70dff9c42bed2745a414f70841523c4982453f260dfa4a5bd8acaf2714f8e6" +
    "8bb2ccf2730d8314476d533b498104e9d19324c7a3f4142218ce1242adbddaec3b2b" +
    "adb1d6a648ae4612ecc7ed72c8c2df71af756d44ca8cc97cf005",
};

const PROVIDERS: [string, RoomCrypto][] = [
  ["webRoomCrypto", webRoomCrypto],
  ["nativeRoomCrypto", nativeRoomCrypto],
];

async function setup(crypto: RoomCrypto, next = 0, epoch = 1) {
  const key = crypto === webRoomCrypto
    ? Uint8Array.from({ length: 32 }, (_, i) => 255 - i)
    : Uint8Array.from({ length: 32 }, (_, i) => i * 3);
  const signer = await crypto.signer();
  const sealer = new RoomFrameSealer(epoch, key, signer, crypto);
  const opener = await RoomFrameOpener.create(
    { epoch, key, next, signingKey: signer.publicKey },
    crypto,
  );
  return { sealer, opener, key, signer };
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
    const signer = await crypto.signer(VECTOR.seed);
    assert.equal(signer.publicKey.toHex(), VECTOR.signingKey);
    const sealer = new RoomFrameSealer(
      VECTOR.epoch,
      VECTOR.key,
      signer,
      crypto,
    );
    const frame = await sealer.seal(
      VECTOR.counter,
      Uint8Array.fromHex(VECTOR.batch),
    );
    assert.equal(frame.toHex(), VECTOR.frame);
  });

  Deno.test(`RoomFrameOpener with ${name} opens the test vector`, async () => {
    const opener = await RoomFrameOpener.create({
      epoch: VECTOR.epoch,
      key: VECTOR.key,
      next: VECTOR.counter,
      signingKey: Uint8Array.fromHex(VECTOR.signingKey),
    }, crypto);
    const batch = await opener.open(Uint8Array.fromHex(VECTOR.frame));
    assert.equal(batch.toHex(), VECTOR.batch);
    assert.deepEqual(opener.expected, {
      epoch: VECTOR.epoch,
      counter: VECTOR.counter + 1,
    });
  });

  Deno.test(`RoomFrameOpener with ${name} opens frames in order`, async () => {
    const { sealer, opener } = await setup(crypto, 5);
    for (let counter = 5; counter < 8; counter++) {
      const batch = new Uint8Array([counter, 1, 2]);
      assert.deepEqual(
        await opener.open(await sealer.seal(counter, batch)),
        batch,
      );
    }
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a replayed frame`, async () => {
    const { sealer, opener } = await setup(crypto);
    const frame = await sealer.seal(0, new Uint8Array([1]));
    await opener.open(frame);
    await rejectsWith(opener.open(frame), "out of sequence");
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a dropped or reordered frame`, async () => {
    const { sealer, opener } = await setup(crypto);
    const first = await sealer.seal(0, new Uint8Array([1]));
    const second = await sealer.seal(1, new Uint8Array([2]));
    await rejectsWith(opener.open(second), "out of sequence");
    // Nothing was accepted: the first is still the one expected.
    assert.deepEqual(await opener.open(first), new Uint8Array([1]));
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a frame of another epoch`, async () => {
    const { key, signer, opener } = await setup(crypto, 0, 1);
    const other = new RoomFrameSealer(2, key, signer, crypto);
    await rejectsWith(
      opener.open(await other.seal(0, new Uint8Array([1]))),
      "wrong epoch",
    );
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a frame a member forged with the room key`, async () => {
    // The member holds the room key, not the server's signing key.
    const { key, opener } = await setup(crypto);
    const member = new RoomFrameSealer(1, key, await crypto.signer(), crypto);
    await rejectsWith(
      opener.open(await member.seal(0, new Uint8Array([1]))),
      "bad signature",
    );
  });

  Deno.test(`RoomFrameOpener with ${name} refuses an altered frame`, async () => {
    const { sealer, opener } = await setup(crypto);
    const frame = await sealer.seal(0, new Uint8Array([1, 2, 3, 4]));
    for (const at of [14, frame.length - 70, frame.length - 1]) {
      const altered = frame.slice();
      altered[at]! ^= 1;
      await rejectsWith(opener.open(altered), "bad signature");
    }
  });

  Deno.test(`RoomFrameOpener with ${name} refuses a signed frame under another key`, async () => {
    // Signed by the server but sealed under a key this member does not
    // hold: authentication fails, nothing is shown.
    const { signer, opener } = await setup(crypto);
    const stranger = new RoomFrameSealer(1, new Uint8Array(32), signer, crypto);
    await rejectsWith(
      opener.open(await stranger.seal(0, new Uint8Array([1]))),
      "authentication failed",
    );
  });

  Deno.test(`RoomFrameOpener with ${name} refuses short frames and other versions`, async () => {
    const { sealer, opener } = await setup(crypto);
    const frame = await sealer.seal(0, new Uint8Array([1]));
    await rejectsWith(opener.open(frame.subarray(0, 90)), "too short");
    const other = frame.slice();
    other[0] = ROOM_FRAME_VERSION + 1;
    await rejectsWith(opener.open(other), "bad version");
  });

  Deno.test(`RoomFrameOpener.rekey with ${name} moves to the new epoch`, async () => {
    const { sealer, opener, signer } = await setup(crypto);
    await opener.open(await sealer.seal(0, new Uint8Array([1])));
    const key = new Uint8Array(32).fill(9);
    await opener.rekey({
      epoch: 2,
      key,
      next: 0,
      signingKey: signer.publicKey,
    });
    const old = await sealer.seal(1, new Uint8Array([2]));
    await rejectsWith(opener.open(old), "wrong epoch");
    const next = new RoomFrameSealer(2, key, signer, crypto);
    assert.deepEqual(
      await opener.open(await next.seal(0, new Uint8Array([3]))),
      new Uint8Array([3]),
    );
  });
}

Deno.test("RoomFrameOpener.create refuses a malformed room key", async () => {
  await assert.rejects(
    RoomFrameOpener.create({
      epoch: 1,
      key: new Uint8Array(31),
      next: 0,
      signingKey: new Uint8Array(32),
    }, webRoomCrypto),
    /not 32 bytes/,
  );
});

Deno.test("RoomFrameSealer.seal refuses an empty batch and a counter out of range", async () => {
  const signer = await nativeRoomCrypto.signer();
  const sealer = new RoomFrameSealer(
    0,
    new Uint8Array(32),
    signer,
    nativeRoomCrypto,
  );
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
  const signer = await nativeRoomCrypto.signer();
  const key = new Uint8Array(32).fill(7);
  const batch = crypto.getRandomValues(new Uint8Array(64 * 1024));
  for (
    const [seal, open] of [[nativeRoomCrypto, webRoomCrypto], [
      webRoomCrypto,
      nativeRoomCrypto,
    ]]
  ) {
    const frame = await new RoomFrameSealer(3, key, signer, seal!).seal(
      9,
      batch,
    );
    const opener = await RoomFrameOpener.create(
      { epoch: 3, key, next: 9, signingKey: signer.publicKey },
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
