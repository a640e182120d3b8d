import assert from "node:assert/strict";
import { randomBytes, utf8Encode } from "../../src/crypto/bytes.ts";
import {
  nativeSmallFrames,
  SMALL_FRAME_LIMIT,
} from "../../src/crypto/native_aead.ts";
import {
  FrameError,
  FrameOpener,
  FrameSealer,
  type SmallFrameAead,
} from "../../src/crypto/session_cipher.ts";

// Each side of the limit: node:crypto, WebCrypto.
const SIZES = [
  0,
  1,
  100,
  512,
  SMALL_FRAME_LIMIT - 1,
  SMALL_FRAME_LIMIT,
  100_000,
];

/** nativeSmallFrames, counting the frames it handles. */
function counting(): SmallFrameAead & { seals: number; opens: number } {
  const spy = {
    maxPlaintext: nativeSmallFrames.maxPlaintext,
    seals: 0,
    opens: 0,
    sealInto(...args: Parameters<SmallFrameAead["sealInto"]>) {
      spy.seals++;
      nativeSmallFrames.sealInto(...args);
    },
    open(...args: Parameters<SmallFrameAead["open"]>) {
      spy.opens++;
      return nativeSmallFrames.open(...args);
    },
  };
  return spy;
}

async function rejectsAuth(promise: Promise<unknown>, reason: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FrameError, `got ${error}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

Deno.test("small frames sealed synchronously are byte for byte WebCrypto's frames", async () => {
  const secret = randomBytes(32);
  const spy = counting();
  const native = new FrameSealer(secret, {
    rekeyInterval: 4,
    smallFrames: spy,
  });
  const web = new FrameSealer(secret, { rekeyInterval: 4 });
  // Sixteen frames cross three epoch changes.
  for (let round = 0; round < 2; round++) {
    for (const size of SIZES) {
      const plaintext = randomBytes(size);
      assert.deepEqual(
        await native.seal(plaintext),
        await web.seal(plaintext),
        `${size} bytes`,
      );
    }
  }
  // Only the frames up to the limit took the synchronous path.
  assert.equal(
    spy.seals,
    2 * SIZES.filter((s) => s <= SMALL_FRAME_LIMIT).length,
  );
});

Deno.test("either side may seal small frames synchronously: frames open across implementations, in call order", async () => {
  const secret = randomBytes(32);
  for (const [sealWith, openWith] of [["native", "web"], ["web", "native"]]) {
    const options = (kind: string) =>
      kind === "native"
        ? { rekeyInterval: 3, smallFrames: nativeSmallFrames }
        : { rekeyInterval: 3 };
    const sealer = new FrameSealer(secret, options(sealWith!));
    const opener = new FrameOpener(secret, options(openWith!));
    const plaintexts = [...SIZES, ...SIZES].map((size) => randomBytes(size));
    // Sealed without awaiting, small and large mixed, across epochs: the
    // synchronous frames must still take their sequence numbers in call order.
    const frames = await Promise.all(plaintexts.map((p) => sealer.seal(p)));
    for (const [i, frame] of frames.entries()) {
      assert.deepEqual(
        await opener.open(frame),
        plaintexts[i],
        `${sealWith} → ${openWith}, frame ${i}`,
      );
    }
  }
});

Deno.test("the synchronous opener rejects tampered, truncated and misdirected small frames", async () => {
  for (const size of [14, 513, SMALL_FRAME_LIMIT]) {
    const secret = randomBytes(32);
    const spy = counting();
    const sealer = new FrameSealer(secret);
    const opener = new FrameOpener(secret, { smallFrames: spy });
    const message = utf8Encode("attack at dawn".padEnd(size, "!"));
    const frame = await sealer.seal(message);
    for (const index of [9, 15, frame.length - 1]) {
      const copy = frame.slice();
      copy[index]! ^= 0x01;
      await rejectsAuth(opener.open(copy), "authentication failed");
    }
    await rejectsAuth(
      opener.open(frame.subarray(0, frame.length - 1)),
      "authentication failed",
    );
    const other = new FrameSealer(randomBytes(32));
    await rejectsAuth(
      opener.open(await other.seal(message)),
      "authentication failed",
    );
    assert.equal(
      spy.opens,
      5,
      `${size} bytes: the synchronous path was tested`,
    );
    // Nothing was accepted meanwhile: the genuine frame still opens, from a
    // view.
    const padded = new Uint8Array(frame.length + 8);
    padded.set(frame, 3);
    assert.deepEqual(
      await opener.open(padded.subarray(3, 3 + frame.length)),
      message,
    );
    assert.equal(opener.expectedSeq, 1);
  }
});

Deno.test("trySealNow's frame is scratch space that the next seal reuses, so it is copied before then", async () => {
  const secretA = randomBytes(32);
  const secretB = randomBytes(32);
  const sealerA = new FrameSealer(secretA, { smallFrames: nativeSmallFrames });
  const sealerB = new FrameSealer(secretB, { smallFrames: nativeSmallFrames });
  const openerA = new FrameOpener(secretA);
  const openerB = new FrameOpener(secretB);
  // The first seal of a session waits for its keys; trySealNow needs them.
  await openerA.open(await sealerA.seal(utf8Encode("first")));
  await openerB.open(await sealerB.seal(utf8Encode("first")));
  const frameA = sealerA.trySealNow(utf8Encode("to A"));
  assert.ok(frameA !== null);
  const copyA = frameA.slice();
  const frameB = sealerB.trySealNow(utf8Encode("for B, longer"));
  assert.ok(frameB !== null);
  // One buffer for every sealer: what a server pays per recipient is a copy
  // into the socket, not a new buffer.
  assert.equal(frameA.buffer, frameB.buffer);
  assert.deepEqual(await openerA.open(copyA), utf8Encode("to A"));
  assert.deepEqual(
    await openerB.open(frameB.slice()),
    utf8Encode("for B, longer"),
  );
});

Deno.test("the synchronous opener reads all 64 bits of the sequence number", async () => {
  const secret = randomBytes(32);
  const sealer = new FrameSealer(secret);
  const opener = new FrameOpener(secret, { smallFrames: nativeSmallFrames });
  const frame = await sealer.seal(utf8Encode("first"));
  for (const index of [1, 4, 5, 8]) {
    // Sequence number 0 with one bit set in byte `index` of the header:
    // 2^56, 2^32, 2^24 and 1.
    const copy = frame.slice();
    copy[index] = 1;
    await rejectsAuth(opener.open(copy), "out of sequence");
  }
  assert.deepEqual(await opener.open(frame), utf8Encode("first"));
});

Deno.test("the synchronous opener returns a plain Uint8Array with a buffer of its own", async () => {
  const secret = randomBytes(32);
  const sealer = new FrameSealer(secret);
  const opener = new FrameOpener(secret, { smallFrames: nativeSmallFrames });
  for (const size of [26, 612, SMALL_FRAME_LIMIT]) {
    const sent = utf8Encode("a body the server may hold".padEnd(size, "."));
    const plaintext = await opener.open(await sealer.seal(sent));
    assert.deepEqual(plaintext, sent);
    // Not a node Buffer: its slice() would make a view, and callers copy
    // with it.
    assert.equal(Object.getPrototypeOf(plaintext), Uint8Array.prototype);
    const copy = plaintext.slice();
    copy[0] = 0;
    assert.equal(plaintext[0], "a".charCodeAt(0));
    // The whole buffer is the plaintext's: freeing it frees nothing else.
    assert.equal(plaintext.byteOffset, 0);
    assert.equal(plaintext.buffer.byteLength, plaintext.byteLength);
  }
});
