import assert from "node:assert/strict";
import { MAX_FRAME_BYTES } from "../../src/protocol/limits.ts";
import {
  concatBytes,
  randomBytes,
  utf8Encode,
} from "../../src/crypto/bytes.ts";
import {
  FrameError,
  type FrameErrorReason,
  FrameOpener,
  FrameSealer,
  type SessionCipherOptions,
  SessionExhaustedError,
} from "../../src/crypto/session_cipher.ts";
import {
  frameAead,
  nativeSmallFrames,
  SMALL_FRAME_LIMIT,
} from "../../src/crypto/native_aead.ts";

function pair(options: SessionCipherOptions = {}, secret = randomBytes(32)) {
  return {
    sealer: new FrameSealer(secret, options),
    opener: new FrameOpener(secret, options),
  };
}

async function rejectsWith(
  promise: Promise<unknown>,
  reason: FrameErrorReason,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FrameError, `got ${error}`);
    assert.equal(error.reason, reason);
    if (message) assert.match(error.message, message);
    return true;
  });
}

function seqOf(frame: Uint8Array): bigint {
  return new DataView(frame.buffer, frame.byteOffset).getBigUint64(1);
}

/** An independent reading of the key schedule in session_cipher.ts. */
async function referenceFrame(
  secret: Uint8Array<ArrayBuffer>,
  epoch: number,
  seq: number,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  const hkdf = async (
    ikm: Uint8Array<ArrayBuffer>,
    info: string,
    bytes: number,
  ) =>
    new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: new Uint8Array(0),
          info: utf8Encode(info),
        },
        await crypto.subtle.importKey("raw", ikm, "HKDF", false, [
          "deriveBits",
        ]),
        bytes * 8,
      ),
    );
  let t = secret;
  for (let e = 0; e < epoch; e++) t = await hkdf(t, "chat/1 next", 32);
  const okm = await hkdf(t, "chat/1 traffic", 44);
  const key = await crypto.subtle.importKey(
    "raw",
    okm.slice(0, 32),
    "AES-GCM",
    false,
    [
      "encrypt",
    ],
  );
  const header = new Uint8Array(9);
  header[0] = 1;
  new DataView(header.buffer).setBigUint64(1, BigInt(seq));
  const nonce = okm.slice(32, 44);
  const seqBytes = new Uint8Array(12);
  new DataView(seqBytes.buffer).setBigUint64(4, BigInt(seq));
  for (let i = 0; i < 12; i++) nonce[i]! ^= seqBytes[i]!;
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: header },
    key,
    plaintext,
  );
  return concatBytes(header, new Uint8Array(sealed));
}

Deno.test("FrameSealer and FrameOpener round-trip frames in order", async () => {
  const { sealer, opener } = pair();
  const messages = [
    new Uint8Array(0),
    utf8Encode("hello"),
    randomBytes(100_000),
  ];
  for (const [i, message] of messages.entries()) {
    assert.equal(sealer.nextSeq, i);
    const frame = await sealer.seal(message);
    assert.equal(frame.length, 9 + message.length + 16);
    assert.equal(frame[0], 1);
    assert.equal(seqOf(frame), BigInt(i));
    assert.deepEqual(await opener.open(frame), message);
    assert.equal(opener.expectedSeq, i + 1);
  }
});

Deno.test("FrameSealer follows the documented key schedule and frame layout", async () => {
  const secret = randomBytes(32);
  const sealer = new FrameSealer(secret, { rekeyInterval: 4 });
  for (let seq = 0; seq < 10; seq++) {
    const plaintext = utf8Encode(`frame ${seq}`);
    assert.deepEqual(
      await sealer.seal(plaintext),
      await referenceFrame(secret, Math.floor(seq / 4), seq, plaintext),
      `seq ${seq}`,
    );
  }
});

for (
  const [label, small] of [
    ["node:crypto", nativeSmallFrames],
    ["the frame AEAD (OpenSSL where it loads)", frameAead],
  ] as const
) {
  Deno.test(`FrameSealer.sealInPlace with ${label} makes the documented frame of the plaintext already in it, in sequence with seal`, async () => {
    const secret = randomBytes(32);
    const sealer = new FrameSealer(secret, {
      rekeyInterval: 4,
      smallFrames: small,
    });
    let inPlace = 0;
    for (let seq = 0; seq < 10; seq++) {
      const plaintext = utf8Encode(`frame ${seq} `.repeat(seq * 7));
      const expected = await referenceFrame(
        secret,
        Math.floor(seq / 4),
        seq,
        plaintext,
      );
      if (seq % 3 === 0 || !sealer.canSealNow(plaintext.length)) {
        // Every third by seal, and where this epoch's keys are not derived
        // yet (the first frame of each): the same sequence.
        assert.deepEqual(await sealer.seal(plaintext), expected, `seq ${seq}`);
        continue;
      }
      // In the middle of a larger buffer, as a connection's pool gives it.
      const buffer = new Uint8Array(expected.length + 20).fill(0xee);
      const frame = buffer.subarray(7, 7 + expected.length);
      frame.set(plaintext, 9);
      sealer.sealInPlace(frame);
      inPlace++;
      assert.deepEqual(frame, expected, `seq ${seq}`);
      assert.ok(buffer.subarray(0, 7).every((b) => b === 0xee));
      assert.ok(buffer.subarray(7 + frame.length).every((b) => b === 0xee));
    }
    assert.equal(sealer.nextSeq, 10);
    assert.equal(inPlace, 4, "seq 1, 2, 5 and 7");
  });
}

Deno.test("FrameSealer.canSealNow is false where trySealNow would not seal, and sealInPlace then throws without taking a sequence number", async () => {
  const secret = randomBytes(32);
  // No SmallFrameAead: WebCrypto seals every frame, never in place.
  const webCrypto = new FrameSealer(secret);
  assert.equal(webCrypto.canSealNow(10), false);
  assert.throws(() => webCrypto.sealInPlace(new Uint8Array(35)), RangeError);
  assert.equal(webCrypto.nextSeq, 0);
  const sealer = new FrameSealer(secret, {
    smallFrames: nativeSmallFrames,
    maxFrames: 2,
  });
  // The first epoch's keys are derived on the first seal.
  assert.equal(sealer.canSealNow(10), false);
  await sealer.seal(utf8Encode("first"));
  assert.equal(sealer.canSealNow(10), true);
  assert.equal(sealer.canSealNow(SMALL_FRAME_LIMIT + 1), false);
  assert.throws(() => sealer.sealInPlace(new Uint8Array(24)), RangeError);
  assert.equal(sealer.nextSeq, 1);
  sealer.sealInPlace(new Uint8Array(35));
  // Exhausted.
  assert.equal(sealer.canSealNow(10), false);
  assert.throws(() => sealer.sealInPlace(new Uint8Array(35)), RangeError);
  assert.equal(sealer.nextSeq, 2);
});

Deno.test("FrameOpener.tryOpenNow opens what open opens, in sequence with it, and returns null, advancing nothing, where only open can", async () => {
  const secret = randomBytes(32);
  // No SmallFrameAead: only open (WebCrypto) opens.
  const web = pair({}, secret);
  const webFrame = await web.sealer.seal(utf8Encode("web"));
  assert.equal(web.opener.tryOpenNow(webFrame), null);
  assert.equal(web.opener.expectedSeq, 0);
  assert.deepEqual(await web.opener.open(webFrame), utf8Encode("web"));

  const options = { smallFrames: nativeSmallFrames, rekeyInterval: 2 };
  const sealer = new FrameSealer(secret, options);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 5; i++) {
    frames.push(await sealer.seal(utf8Encode(`${i}`)));
  }
  const opener = new FrameOpener(secret, options);
  // The first epoch's keys are still being derived.
  assert.equal(opener.tryOpenNow(frames[0]!), null);
  assert.equal(opener.expectedSeq, 0);
  assert.deepEqual(await opener.open(frames[0]!), utf8Encode("0"));
  assert.deepEqual(opener.tryOpenNow(frames[1]!), utf8Encode("1"));
  assert.equal(opener.expectedSeq, 2);
  // Frame 2 starts an epoch whose keys are not derived yet.
  assert.equal(opener.tryOpenNow(frames[2]!), null);
  assert.deepEqual(await opener.open(frames[2]!), utf8Encode("2"));
  // Out of sequence, tampered: refused as open refuses them, not advancing.
  assert.throws(
    () => opener.tryOpenNow(frames[4]!),
    (error: unknown) =>
      error instanceof FrameError && error.reason === "out of sequence",
  );
  const tampered = frames[3]!.slice();
  tampered[tampered.length - 1]! ^= 1;
  assert.throws(
    () => opener.tryOpenNow(tampered),
    (error: unknown) =>
      error instanceof FrameError && error.reason === "authentication failed",
  );
  assert.equal(opener.expectedSeq, 3);
  assert.deepEqual(opener.tryOpenNow(frames[3]!), utf8Encode("3"));
  // Frame 4 starts the next epoch.
  assert.equal(opener.tryOpenNow(frames[4]!), null);
  assert.deepEqual(await opener.open(frames[4]!), utf8Encode("4"));
  // Too large for the SmallFrameAead: open's WebCrypto path.
  const large = new Uint8Array(SMALL_FRAME_LIMIT + 1).fill(7);
  const largeFrame = await sealer.seal(large);
  if (nativeSmallFrames.maxPlaintext < large.length) {
    assert.equal(opener.tryOpenNow(largeFrame), null);
    assert.equal(opener.expectedSeq, 5);
  }
  assert.deepEqual(await opener.open(largeFrame), large);
});

Deno.test("FrameSealer assigns sequence numbers in call order", async () => {
  const { sealer, opener } = pair({ rekeyInterval: 2 });
  // Not awaited one by one: the sequence number is taken at call time, even
  // across an epoch change.
  const frames = await Promise.all(
    [0, 1, 2, 3, 4].map((i) => sealer.seal(utf8Encode(`${i}`))),
  );
  assert.deepEqual(frames.map(seqOf), [0n, 1n, 2n, 3n, 4n]);
  assert.equal(sealer.nextSeq, 5);
  for (const [i, frame] of frames.entries()) {
    assert.deepEqual(await opener.open(frame), utf8Encode(`${i}`));
  }
});

Deno.test("FrameOpener rejects a repeated frame", async () => {
  const { sealer, opener } = pair();
  const frame = await sealer.seal(utf8Encode("once"));
  await opener.open(frame);
  await rejectsWith(opener.open(frame), "out of sequence", /expected 1, got 0/);
});

Deno.test("FrameOpener rejects skipped and reordered frames without advancing", async () => {
  const { sealer, opener } = pair();
  const frames = [];
  for (let i = 0; i < 3; i++) {
    frames.push(await sealer.seal(utf8Encode(`${i}`)));
  }
  await rejectsWith(
    opener.open(frames[1]!),
    "out of sequence",
    /expected 0, got 1/,
  );
  await opener.open(frames[0]!);
  await rejectsWith(
    opener.open(frames[2]!),
    "out of sequence",
    /expected 1, got 2/,
  );
  await opener.open(frames[1]!);
  await opener.open(frames[2]!);
});

Deno.test("FrameOpener rejects tampered ciphertext, tag and header", async () => {
  const { sealer, opener } = pair();
  const frame = await sealer.seal(utf8Encode("attack at dawn"));
  const tamper = (index: number) => {
    const copy = frame.slice();
    copy[index]! ^= 0x01;
    return copy;
  };
  await rejectsWith(opener.open(tamper(9)), "authentication failed", /Frame 0/);
  await rejectsWith(
    opener.open(tamper(frame.length - 1)),
    "authentication failed",
  );
  await rejectsWith(opener.open(tamper(8)), "out of sequence");
  await rejectsWith(
    opener.open(tamper(0)),
    "bad version",
    /version 0 \(expected 1\)/,
  );
  // A failed open leaves the opener usable for the genuine frame.
  assert.deepEqual(await opener.open(frame), utf8Encode("attack at dawn"));
});

Deno.test("FrameOpener rejects truncated and oversized frames", async () => {
  const { sealer, opener } = pair();
  const frame = await sealer.seal(utf8Encode("some text"));
  await rejectsWith(
    opener.open(frame.subarray(0, 24)),
    "too short",
    /24 bytes/,
  );
  await rejectsWith(opener.open(new Uint8Array(0)), "too short");
  await rejectsWith(
    opener.open(frame.subarray(0, frame.length - 1)),
    "authentication failed",
  );
  await rejectsWith(
    opener.open(frame.subarray(0, 25)),
    "authentication failed",
  );
  const huge = new Uint8Array(MAX_FRAME_BYTES + 1);
  huge[0] = 1;
  await rejectsWith(opener.open(huge), "too long");
  assert.deepEqual(await opener.open(frame), utf8Encode("some text"));
});

Deno.test("FrameOpener rejects a frame sealed for the other direction", async () => {
  const clientToServer = pair();
  const serverToClient = pair();
  const frame = await clientToServer.sealer.seal(utf8Encode("reflected"));
  await rejectsWith(serverToClient.opener.open(frame), "authentication failed");
});

Deno.test("FrameOpener opens a sealed frame from a subarray view", async () => {
  const { sealer, opener } = pair();
  const frame = await sealer.seal(utf8Encode("view"));
  const padded = concatBytes(new Uint8Array(3), frame, new Uint8Array(5));
  assert.deepEqual(
    await opener.open(padded.subarray(3, 3 + frame.length)),
    utf8Encode("view"),
  );
});

Deno.test("FrameSealer rekeys every rekeyInterval frames", async () => {
  const secret = randomBytes(32);
  const { sealer, opener } = pair({ rekeyInterval: 4 }, secret);
  for (let i = 0; i < 20; i++) {
    const message = utf8Encode(`message ${i}`);
    assert.deepEqual(await opener.open(await sealer.seal(message)), message);
  }

  // Same secret, different epoch boundaries: frames agree up to seq 3 only.
  const short = new FrameSealer(secret, { rekeyInterval: 4 });
  const long = new FrameSealer(secret, { rekeyInterval: 8 });
  const longOpener = new FrameOpener(secret, { rekeyInterval: 8 });
  const same = utf8Encode("same plaintext");
  for (let seq = 0; seq < 4; seq++) {
    const frame = await short.seal(same);
    assert.deepEqual(frame, await long.seal(same));
    await longOpener.open(frame);
  }
  const epochOne = await short.seal(same);
  assert.notDeepEqual(epochOne, await long.seal(same));
  await rejectsWith(longOpener.open(epochOne), "authentication failed");
});

Deno.test("FrameSealer throws SessionExhaustedError after maxFrames", async () => {
  const { sealer, opener } = pair({ maxFrames: 3 });
  for (let i = 0; i < 3; i++) {
    await opener.open(await sealer.seal(utf8Encode("x")));
  }
  await assert.rejects(sealer.seal(utf8Encode("x")), SessionExhaustedError);
  assert.equal(sealer.nextSeq, 3);
  // A peer that kept going would be refused as well.
  const peer = new FrameSealer(randomBytes(32));
  const frame = await peer.seal(utf8Encode("x"));
  frame.set([0, 0, 0, 0, 0, 0, 0, 3], 1);
  await assert.rejects(opener.open(frame), SessionExhaustedError);
});

Deno.test("FrameSealer refuses plaintext that would exceed the frame limit", async () => {
  const { sealer } = pair();
  await assert.rejects(
    sealer.seal(new Uint8Array(MAX_FRAME_BYTES - 24)),
    RangeError,
  );
  assert.equal(sealer.nextSeq, 0);
  const largest = await sealer.seal(new Uint8Array(MAX_FRAME_BYTES - 25));
  assert.equal(largest.length, MAX_FRAME_BYTES);
});

Deno.test("FrameOpener refuses overlapping open calls", async () => {
  const { sealer, opener } = pair();
  const first = await sealer.seal(utf8Encode("1"));
  const second = await sealer.seal(utf8Encode("2"));
  const pending = opener.open(first);
  await assert.rejects(opener.open(second), /another open is pending/);
  assert.deepEqual(await pending, utf8Encode("1"));
  assert.deepEqual(await opener.open(second), utf8Encode("2"));
});

Deno.test("FrameSealer validates its secret and options", () => {
  assert.throws(() => new FrameSealer(randomBytes(31)), RangeError);
  assert.throws(
    () => new FrameOpener(randomBytes(32), { rekeyInterval: 0 }),
    RangeError,
  );
  assert.throws(
    () => new FrameSealer(randomBytes(32), { rekeyInterval: 2 ** 24 + 1 }),
    RangeError,
  );
  assert.throws(
    () => new FrameSealer(randomBytes(32), { maxFrames: 2 ** 40 + 1 }),
    RangeError,
  );
  assert.throws(
    () => new FrameSealer(randomBytes(32), { maxFrames: 1.5 }),
    RangeError,
  );
});

Deno.test("a cipher with a SmallFrameAead imports the WebCrypto AES key only once a frame is too large for it, and then once", async () => {
  const importKey = crypto.subtle.importKey;
  let aesImports = 0;
  crypto.subtle.importKey = function (
    this: SubtleCrypto,
    ...args: Parameters<SubtleCrypto["importKey"]>
  ) {
    const algorithm = args[2];
    const name = typeof algorithm === "string" ? algorithm : algorithm.name;
    if (name === "AES-GCM") aesImports++;
    return importKey.apply(this, args);
  } as SubtleCrypto["importKey"];
  try {
    const options = { smallFrames: nativeSmallFrames };
    const { sealer, opener } = pair(options);
    for (let i = 0; i < 3; i++) {
      const small = utf8Encode(`small ${i}`);
      assert.deepEqual(await opener.open(await sealer.seal(small)), small);
    }
    // An idle connection's keys: nothing imported.
    assert.equal(aesImports, 0);
    const large = randomBytes(SMALL_FRAME_LIMIT + 1);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await opener.open(await sealer.seal(large)), large);
    }
    // One key per direction, imported on first use and kept.
    assert.equal(aesImports, 2);
  } finally {
    crypto.subtle.importKey = importKey;
  }
});

/** docs/PROTOCOL.md A.1's T0, and A.4's bulk frame (Python's `cryptography`). */
const VECTOR_T0 = Uint8Array.from({ length: 32 }, (_, i) => i);
const BULK_VECTOR = {
  header: '{"t":"file_chunk","xfer":1,"offset":0}',
  body: "8b4b8d35fbac99b28096db3f8376a48c66622cd027",
  frame: "0200000000000000020000001594" +
    "9ba5a97e1a0c6abf696afa08891827c83c309c66d893d9c7020ba353b0b5654a948a77" +
    "005072d96ec1ef36ac9188f4e8dc9103ebe68b4b8d35fbac99b28096db3f8376a48c66" +
    "622cd027",
};

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hex.match(/../g)!, (byte) => parseInt(byte, 16));
}

for (
  const [label, options] of [
    ["WebCrypto", {}],
    ["a SmallFrameAead", { smallFrames: nativeSmallFrames }],
  ] as const
) {
  Deno.test(`FrameSealer.sealBulk with ${label} makes docs/PROTOCOL.md's bulk frame, and FrameOpener.openBulk reads it`, async () => {
    const { sealer, opener } = pair(options, VECTOR_T0);
    // Bulk frames share the sequence with batch frames: this one is seq 2.
    for (let i = 0; i < 2; i++) {
      await opener.open(await sealer.seal(utf8Encode("x")));
    }
    const body = fromHex(BULK_VECTOR.body);
    const frame = await sealer.sealBulk(utf8Encode(BULK_VECTOR.header), body);
    assert.equal(
      [...frame].map((b) => b.toString(16).padStart(2, "0")).join(""),
      BULK_VECTOR.frame,
    );
    const opened = await opener.openBulk(frame);
    assert.equal(new TextDecoder().decode(opened.header), BULK_VECTOR.header);
    assert.deepEqual(opened.body, body);
    assert.equal(opened.body.buffer, frame.buffer, "the body is a view");
    // And the sequence goes on with batch frames.
    await opener.open(await sealer.seal(utf8Encode("y")));
  });
}

Deno.test("FrameSealer.trySealBulkHeadNow makes docs/PROTOCOL.md's bulk frame but for the body, which it leaves to the caller", async () => {
  const { sealer, opener } = pair(
    { smallFrames: nativeSmallFrames },
    VECTOR_T0,
  );
  for (let i = 0; i < 2; i++) {
    await opener.open(await sealer.seal(utf8Encode("x")));
  }
  const body = fromHex(BULK_VECTOR.body);
  const head = sealer.trySealBulkHeadNow(utf8Encode(BULK_VECTOR.header), body);
  assert.ok(head !== null, "sealed at once with a SmallFrameAead");
  const frame = new Uint8Array(head.byteLength + body.byteLength);
  frame.set(head);
  frame.set(body, head.byteLength);
  assert.equal(
    [...frame].map((b) => b.toString(16).padStart(2, "0")).join(""),
    BULK_VECTOR.frame,
  );
  const opened = await opener.openBulk(frame);
  assert.deepEqual(opened.body, body);
  await opener.open(await sealer.seal(utf8Encode("y")));
});

Deno.test("FrameOpener.openBulk rejects a changed length, header or sequence, and each version only where it belongs", async () => {
  const { sealer, opener } = pair({ smallFrames: nativeSmallFrames });
  const frame = await sealer.sealBulk(utf8Encode("{}"), new Uint8Array(100));
  const longer = frame.slice();
  longer[12] = longer[12]! + 1;
  await rejectsWith(opener.openBulk(longer), "authentication failed");
  const altered = frame.slice();
  altered[14] = altered[14]! ^ 1;
  await rejectsWith(opener.openBulk(altered), "authentication failed");
  const huge = frame.slice();
  huge[9] = 0xff;
  await rejectsWith(opener.openBulk(huge), "bad body length");
  await rejectsWith(opener.open(frame), "bad version");
  await rejectsWith(
    opener.openBulk(await sealer.seal(utf8Encode("x".repeat(10)))),
    "bad version",
  );
  await rejectsWith(
    opener.openBulk(frame.subarray(0, 29)),
    "too short",
  );
  // The body itself is not this layer's to check (its sender sealed it).
  const body = frame.slice();
  body[body.length - 1] = body[body.length - 1]! ^ 1;
  const opened = await opener.openBulk(body);
  assert.equal(opened.body[99], 1);
  await rejectsWith(opener.openBulk(frame), "out of sequence");
});

Deno.test("FrameSealer.sealBulk refuses a frame over the limit or an empty header", async () => {
  const { sealer } = pair();
  await assert.rejects(
    sealer.sealBulk(utf8Encode("{}"), new Uint8Array(MAX_FRAME_BYTES)),
    RangeError,
  );
  await assert.rejects(
    sealer.sealBulk(new Uint8Array(0), new Uint8Array(1)),
    RangeError,
  );
  assert.equal(sealer.nextSeq, 0);
});

Deno.test("FrameSealer.roomFrames binds the room frames sent before a frame in its AAD, and zero changes nothing", async () => {
  for (const options of [{}, { smallFrames: nativeSmallFrames }]) {
    const secret = randomBytes(32);
    const sealer = new FrameSealer(secret, options);
    const plain = new FrameOpener(secret, options);
    // No room frame yet: the frame is what it always was.
    assert.deepEqual(
      await plain.open(await sealer.seal(utf8Encode("zero"))),
      utf8Encode("zero"),
    );
    sealer.roomFrames = 2;
    const frame = await sealer.seal(utf8Encode("two"));
    const bulk = await sealer.sealBulk(utf8Encode("{}"), utf8Encode("body"));
    // A receiver that saw one room frame, not two: refused.
    const behind = new FrameOpener(secret, options);
    await behind.open(
      await new FrameSealer(secret, options).seal(utf8Encode("zero")),
    );
    behind.roomFrames = 1;
    await rejectsWith(behind.open(frame), "authentication failed");
    plain.roomFrames = 2;
    assert.deepEqual(await plain.open(frame), utf8Encode("two"));
    assert.deepEqual(
      (await plain.openBulk(bulk)).header,
      utf8Encode("{}"),
    );
  }
});
