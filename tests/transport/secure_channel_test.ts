import assert from "node:assert/strict";
import { RELEASE_MIN_BYTES, utf8Encode } from "../../src/crypto/bytes.ts";
import { FrameOpener, FrameSealer } from "../../src/crypto/session_cipher.ts";
import {
  frameAead,
  frameAeadName,
  nativeSmallFrames,
} from "../../src/crypto/native_aead.ts";
import { decodeBatch } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { ClientHandshake } from "../../src/crypto/handshake.ts";
import { Inbox, type WireData } from "../../src/transport/connection.ts";
import {
  acceptChannel,
  ChannelError,
  type ChannelOptions,
  SecureChannel,
  SharedBytes,
} from "../../src/transport/secure_channel.ts";
import { until } from "../_helpers/bystanders.ts";
import { testKeys } from "../_helpers/chat.ts";
import { RecordingConnection } from "../_helpers/recording_connection.ts";

/** A channel over a recording connection; both directions use `secret`. */
function channelPair(options: ChannelOptions = {}): {
  channel: SecureChannel;
  conn: RecordingConnection;
  opener: FrameOpener;
  secret: Uint8Array;
} {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const conn = new RecordingConnection();
  const channel = new SecureChannel(conn, {
    sender: new FrameSealer(secret),
    receiver: new FrameOpener(secret),
    transcriptHash: new Uint8Array(32),
  }, options);
  return { channel, conn, opener: new FrameOpener(secret), secret };
}

Deno.test("SharedBytes frees its bytes when the last holder drops them, not before", () => {
  const bytes = new Uint8Array(RELEASE_MIN_BYTES);
  const shared = new SharedBytes(bytes, 2);
  shared.drop();
  assert.equal(bytes.length, RELEASE_MIN_BYTES);
  shared.drop();
  assert.equal(bytes.length, 0);
});

Deno.test("bulk bytes queued on two channels reach both intact and are freed once both sealed them", async () => {
  const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const encoded = encodeMessage({ t: "file_chunk", xfer: 1, offset: 0 }, body);
  const shared = new SharedBytes(encoded, 2);
  const a = channelPair();
  const b = channelPair();
  a.channel.sendBulk(shared);
  await a.channel.drain();
  assert.equal(encoded.length > 0, true, "b holds it still");
  b.channel.sendBulk(shared);
  await b.channel.drain();
  assert.equal(encoded.length, 0, "freed after the last seal");
  for (const { conn, opener } of [a, b]) {
    const [frame] = conn.sent;
    assert.ok(frame instanceof Uint8Array);
    const [message] = decodeBatch(await opener.open(frame));
    assert.deepEqual(message!.header, { t: "file_chunk", xfer: 1, offset: 0 });
    assert.deepEqual(message!.body, body);
  }
});

Deno.test("a channel frees a received frame once opened, and the batch when recycled", async () => {
  const { channel, conn, secret } = channelPair();
  const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const frame = await new FrameSealer(secret).seal(
    encodeMessage({ t: "file_chunk", xfer: 1, offset: 0 }, body),
  );
  conn.deliver(frame);
  const batch = await channel.receive();
  assert.ok(batch !== null);
  assert.equal(frame.length, 0, "the frame was freed once opened");
  assert.deepEqual(batch[0]!.body, body);
  channel.recycle(batch);
  assert.equal(batch[0]!.body.length, 0);
});

Deno.test({
  name:
    "a channel with OpenSSL opens a frame where it came: its messages are views of it, readable until the batch is recycled, which frees it",
  ignore: frameAeadName !== "openssl",
  fn: async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const conn = new RecordingConnection();
    const options = { smallFrames: frameAead };
    const channel = new SecureChannel(conn, {
      sender: new FrameSealer(secret, options),
      receiver: new FrameOpener(secret, options),
      transcriptHash: new Uint8Array(32),
    });
    const sealer = new FrameSealer(secret, options);
    // The opener derives its keys asynchronously (HKDF through WebCrypto):
    // until they are there, a frame is opened by awaiting them, not in
    // place. One frame first, so that what follows does not race them.
    conn.deliver(
      await sealer.seal(encodeMessage({ t: "public", from: "ann", ts: 0 })),
    );
    const first = await channel.receive();
    assert.ok(first !== null);
    channel.recycle(first);
    const small = utf8Encode("hello");
    const large = crypto.getRandomValues(new Uint8Array(64 * 1024));
    for (const body of [small, large]) {
      const frame = await sealer.seal(
        encodeMessage({ t: "public", from: "ann", ts: 1 }, body),
      );
      conn.deliver(frame);
      const batch = await channel.receive();
      assert.ok(batch !== null);
      const [message] = batch;
      assert.equal(message!.body.buffer, frame.buffer, "opened in place");
      assert.deepEqual(message!.header, { t: "public", from: "ann", ts: 1 });
      assert.deepEqual(message!.body, body);
      channel.recycle(batch);
      if (body === large) {
        assert.equal(frame.length, 0, "freed with the batch");
      }
    }
    // A frame altered on the way is refused, in place as not.
    const frame = await sealer.seal(encodeMessage({ t: "pong", re: 1 }));
    frame[frame.length - 1]! ^= 1;
    conn.deliver(frame);
    await assert.rejects(() => channel.receive(), /failed authentication/);
    channel.close();
  },
});

Deno.test("a channel splits frames with the decoder it was given, and a decoder's refusal ends the session", async () => {
  const seen: number[] = [];
  const { channel, conn, secret } = channelPair({
    decode: (plaintext) => {
      seen.push(plaintext.length);
      if (seen.length > 1) throw new SyntaxError("not for me");
      return [];
    },
  });
  const sealer = new FrameSealer(secret);
  const message = encodeMessage({ t: "pong", re: 1 });
  conn.deliver(await sealer.seal(message));
  conn.deliver(await sealer.seal(message));
  assert.deepEqual(await channel.receive(), []);
  await assert.rejects(() => channel.receive(), /Malformed batch: not for me/);
  assert.deepEqual(seen, [message.length, message.length]);
});

Deno.test("ChannelError says a frame refused before it authenticated is the frame's fault, and a malformed batch in an authentic one is the peer's", async () => {
  const refusal = async (frame: (sealed: Uint8Array) => Uint8Array) => {
    const { channel, conn, secret } = channelPair();
    const sealer = new FrameSealer(secret);
    conn.deliver(frame(await sealer.seal(encodeMessage({ t: "pong", re: 1 }))));
    return await channel.receive().then(
      () => assert.fail("the frame was taken"),
      (error: unknown) => {
        assert.ok(error instanceof ChannelError, String(error));
        return error;
      },
    );
  };
  // A flipped bit in the tag.
  const forged = await refusal((sealed) => {
    sealed[sealed.length - 1]! ^= 1;
    return sealed;
  });
  assert.equal(forged.kind, "frame");
  assert.equal(forged.detail, "Frame 0 failed authentication");
  assert.equal(forged.message, "Rejected frame: Frame 0 failed authentication");
  // Sequence number 1 where 0 is due: replayed, dropped or reordered.
  const early = await refusal((sealed) => {
    sealed[8] = 1;
    return sealed;
  });
  assert.equal(early.kind, "frame");
  assert.equal(early.detail, "Frame out of sequence: expected 0, got 1");
  // Authentic, but not a batch: only the peer could have sent it.
  const { channel, conn, secret } = channelPair();
  conn.deliver(await new FrameSealer(secret).seal(new Uint8Array([0xff])));
  const malformed = await channel.receive().catch((error) => error);
  assert.ok(malformed instanceof ChannelError);
  assert.equal(malformed.kind, "content");
  assert.match(malformed.detail, /^Malformed batch: /);
});

/** A recording connection whose `receive` also waits for a later delivery. */
class WaitingConnection extends RecordingConnection {
  readonly #inbox = new Inbox();
  override deliver(data: WireData): void {
    this.#inbox.push(data);
  }
  override receive(): Promise<WireData | null> {
    return this.#inbox.receive();
  }
  override close(code?: number, reason?: string): void {
    this.#inbox.end(false);
    super.close(code, reason);
  }
}

/** A server handshake over `conn` whose decryption waits for `release`. */
async function heldHandshake(conn: WaitingConnection, timeoutMs: number) {
  const keys = await testKeys();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  // Boxed: a promise resolved with a promise would wait for that one.
  let queued!: (decrypted: { done: Promise<unknown> }) => void;
  const decryption = new Promise<{ done: Promise<unknown> }>((resolve) =>
    queued = resolve
  );
  const accepted = acceptChannel(conn, {
    privateKey: keys.privateKey,
    publicSpki: keys.publicSpki,
    timeoutMs,
    limitDecrypt: async <T>(decrypt: () => Promise<T>) => {
      await gate;
      const decrypted = decrypt();
      queued({ done: decrypted });
      return await decrypted;
    },
  });
  // Marked handled now: with a short timeout it may reject (under load)
  // before the test gets to assert that it does.
  accepted.catch(() => {});
  await until(() => conn.sent.length === 1, "the server's hello");
  const client = new ClientHandshake({ pinnedSpki: keys.publicSpki });
  const hello = await client.receiveServerHello(conn.sent[0] as string);
  conn.deliver(hello.reply);
  return { accepted, release, decryption };
}

Deno.test("acceptChannel does not decrypt for a connection that closed while its decryption waited its turn", async () => {
  const conn = new WaitingConnection();
  const { accepted, release, decryption } = await heldHandshake(conn, 10_000);
  const failed = assert.rejects(accepted);
  conn.close();
  await conn.closed;
  release();
  await assert.rejects((await decryption).done, /ended before its decryption/);
  await failed;
  // No server_finished: the RSA decryption never ran.
  assert.equal(conn.sent.length, 1);
});

Deno.test("acceptChannel does not decrypt for a connection whose handshake timed out while its decryption waited", async () => {
  const conn = new WaitingConnection();
  const { accepted, release, decryption } = await heldHandshake(conn, 50);
  await assert.rejects(accepted, /did not finish within/);
  release();
  await assert.rejects((await decryption).done, /ended before its decryption/);
  assert.equal(conn.sent.length, 1);
});

Deno.test("a file_chunk sent on the bulk lane goes out in a bulk frame after the queued batch, its body freed once sealed", async () => {
  const sender = channelPair();
  const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const copy = body.slice();
  sender.channel.send({ t: "file_end", xfer: 1, sha256: "0".repeat(64) });
  sender.channel.send({ t: "file_chunk", xfer: 1, offset: 0 }, body, true);
  await sender.channel.drain();
  assert.equal(body.length, 0, "the body was freed once sealed");
  const [batchFrame, bulkFrame] = sender.conn.sent;
  assert.ok(
    batchFrame instanceof Uint8Array && bulkFrame instanceof Uint8Array,
  );
  assert.equal(batchFrame[0], 0x01);
  assert.equal(bulkFrame[0], 0x02);
  // The receiving channel reads both, the chunk's body marked as outside.
  const conn = new RecordingConnection();
  const receiver = new SecureChannel(conn, {
    sender: new FrameSealer(sender.secret),
    receiver: new FrameOpener(sender.secret),
    transcriptHash: new Uint8Array(32),
  });
  conn.deliver(batchFrame);
  conn.deliver(bulkFrame);
  const first = await receiver.receive();
  assert.equal((first![0]!.header as { t: string }).t, "file_end");
  const [chunk] = (await receiver.receive())!;
  assert.deepEqual(chunk!.header, { t: "file_chunk", xfer: 1, offset: 0 });
  assert.deepEqual(chunk!.body, copy);
  assert.equal(chunk!.outside, true);
});

Deno.test("a file_chunk sent with bodyWritten is handed back once, after its frame went out, not freed", async () => {
  const sender = channelPair();
  const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const copy = body.slice();
  let handedBack = 0;
  sender.channel.send(
    { t: "file_chunk", xfer: 1, offset: 0 },
    body,
    true,
    () => handedBack++,
  );
  assert.equal(handedBack, 0, "handed back before it was sealed");
  await sender.channel.drain();
  assert.equal(handedBack, 1);
  assert.deepEqual(body, copy, "the body was freed or changed");
  // What went out is the body as it was, whatever the sender does next.
  body.fill(0);
  const frame = sender.conn.sent[0] as Uint8Array;
  assert.deepEqual(frame.subarray(frame.length - copy.length), copy);
});

/** A recording connection that writes bodies as they are (sendParts). */
class PartsConnection extends RecordingConnection {
  readonly parts: { body: Uint8Array; written: () => void }[] = [];
  sendParts(_head: Uint8Array, body: Uint8Array, written: () => void): void {
    this.parts.push({ body, written });
  }
}

Deno.test("a file_chunk's bodyWritten waits for a sendParts socket to have written the body", async () => {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const conn = new PartsConnection();
  const channel = new SecureChannel(conn, {
    sender: new FrameSealer(secret, { smallFrames: nativeSmallFrames }),
    receiver: new FrameOpener(secret),
    transcriptHash: new Uint8Array(32),
  });
  // A first frame derives the epoch's keys, after which frames are sealed
  // on the spot and a body can go as a part.
  channel.send({ t: "file_end", xfer: 1, sha256: "0".repeat(64) });
  await channel.drain();
  const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
  let handedBack = 0;
  channel.send(
    { t: "file_chunk", xfer: 1, offset: 0 },
    body,
    true,
    () => handedBack++,
  );
  await channel.drain();
  assert.equal(conn.parts.length, 1, "the body did not go as a part");
  assert.equal(conn.parts[0]!.body, body);
  assert.equal(handedBack, 0, "handed back while the socket still holds it");
  conn.parts[0]!.written();
  assert.equal(handedBack, 1);
  assert.equal(body.length, 64 * 1024, "the body was freed");
});

Deno.test("a bulk frame that carries anything but a file_chunk ends the session", async () => {
  const { channel, conn, secret } = channelPair();
  const frame = await new FrameSealer(secret).sealBulk(
    new TextEncoder().encode('{"t":"say","id":1}'),
    new TextEncoder().encode("hi"),
  );
  conn.deliver(frame);
  await assert.rejects(
    channel.receive(),
    /Malformed bulk frame: not a file_chunk/,
  );
});

/**
 * A recording connection that also offers messageBuffer / sendFilled, and
 * records which way each frame came.
 */
class FillingConnection extends RecordingConnection {
  readonly ways: ("send" | "filled")[] = [];
  override send(data: WireData): void {
    this.ways.push("send");
    super.send(data);
  }
  messageBuffer(length: number): Uint8Array<ArrayBuffer> {
    // Inside a larger buffer, as the edge's pool gives it, with old bytes.
    return new Uint8Array(length + 8).fill(0xee).subarray(4, 4 + length);
  }
  sendFilled(message: Uint8Array<ArrayBuffer>): void {
    this.ways.push("filled");
    super.send(message);
  }
}

for (
  const [label, small, largeWay] of [
    // node:crypto seals up to 4 KiB: larger frames go the usual way.
    ["node:crypto", nativeSmallFrames, "send"],
    // OpenSSL, where it loads, seals frames of any size.
    ...(frameAeadName === "openssl"
      ? [["OpenSSL", frameAead, "filled"] as const]
      : []),
  ] as const
) {
  Deno.test(`a channel with ${label} seals chat in the connection's own buffers where it offers them, shares a list's packing between channels, and counts every byte out of its queue`, async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    let queued = 0;
    const counter = {
      add: (bytes: number) => queued += bytes,
      remove: (bytes: number) => queued -= bytes,
    };
    const channels = [0, 1].map(() => {
      const conn = new FillingConnection();
      const channel = new SecureChannel(conn, {
        sender: new FrameSealer(secret, { smallFrames: small }),
        receiver: new FrameOpener(secret),
        transcriptHash: new Uint8Array(32),
      }, { queued: counter });
      return { conn, channel, opener: new FrameOpener(secret) };
    });
    const say = (id: number, bytes = 10) =>
      encodeMessage({ t: "say", id }, new Uint8Array(bytes).fill(id));
    // The first frame waits for the session's keys: sealed the usual way.
    for (const { channel } of channels) channel.sendEncoded(say(0));
    for (const { channel } of channels) await channel.drain();
    // Then one list for both (one batch), and a list of over a batch's bytes
    // (two frames), each queued on both channels in the same turn.
    const list = [say(1), say(2), say(3)];
    const large = [say(4, 700_000), say(5, 700_000), say(6)];
    for (const messages of [list, large]) {
      for (const { channel } of channels) {
        for (const message of messages) channel.sendEncoded(message);
      }
      for (const { channel } of channels) await channel.drain();
    }
    assert.equal(queued, 0);
    for (const { conn, opener } of channels) {
      assert.deepEqual(conn.ways, ["send", "filled", largeWay, largeWay]);
      const ids: number[] = [];
      for (const frame of conn.sent) {
        assert.ok(frame instanceof Uint8Array);
        for (const { header, body } of decodeBatch(await opener.open(frame))) {
          const { id } = header as { id: number };
          assert.ok(body.every((b) => b === id));
          ids.push(id);
        }
      }
      assert.deepEqual(ids, [0, 1, 2, 3, 4, 5, 6]);
    }
  });
}

/** A sealer whose session is used up: it seals nothing more. */
class ExhaustedSealer extends FrameSealer {
  override seal(): Promise<Uint8Array<ArrayBuffer>> {
    return Promise.reject(new Error("The session is exhausted"));
  }
  override trySealNow(): Uint8Array<ArrayBuffer> | null {
    throw new Error("The session is exhausted");
  }
}

Deno.test("SecureChannel says why it closed the connection itself through options.report, and keeps it as failure", async () => {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const conn = new RecordingConnection();
  const reported: string[] = [];
  const written: unknown[] = [];
  const consoleError = console.error;
  // A terminal client's stderr is its terminal: nothing goes there at once.
  console.error = (...args: unknown[]) => void written.push(args);
  try {
    const channel = new SecureChannel(conn, {
      sender: new ExhaustedSealer(secret),
      receiver: new FrameOpener(secret),
      transcriptHash: new Uint8Array(32),
    }, { report: (line) => reported.push(line) });
    assert.equal(channel.failure, null);
    channel.send({ t: "ping", id: 1 });
    await channel.drain();
    assert.equal(channel.failure, "The session is exhausted");
    assert.equal(reported.length, 1);
    assert.match(reported[0]!, /^chat: closing .*: The session is exhausted$/);
    assert.equal(conn.closes.length, 1);
    assert.deepEqual(written, []);
  } finally {
    console.error = consoleError;
  }
});
