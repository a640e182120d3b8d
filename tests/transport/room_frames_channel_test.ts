/**
 * SecureChannel and room frames (docs/PROTOCOL.md 3.8), both ways: a
 * client's channel takes a room key and room frames; a server's channel
 * sends a frame sealed once for many in order with its own frames.
 */

import assert from "node:assert/strict";
import { toBase64 } from "../../src/crypto/bytes.ts";
import { nativeRoomCrypto } from "../../src/crypto/native_room.ts";
import {
  RoomFrameSealer,
  type RoomSigner,
} from "../../src/crypto/room_frame.ts";
import { FrameOpener, FrameSealer } from "../../src/crypto/session_cipher.ts";
import {
  decodeBatch,
  encodeCompactChat,
  encodeMessage,
  packBatches,
} from "../../src/protocol/codec.ts";
import { RoomFrames } from "../../src/server/room_frames.ts";
import {
  ChannelError,
  SecureChannel,
} from "../../src/transport/secure_channel.ts";
import { RecordingConnection } from "../_helpers/recording_connection.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A client channel and what the server would seal for it. */
async function client() {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const conn = new RecordingConnection();
  const channel = new SecureChannel(conn, {
    sender: new FrameSealer(new Uint8Array(32)),
    receiver: new FrameOpener(secret),
    transcriptHash: new Uint8Array(32),
  }, { roomCrypto: nativeRoomCrypto });
  const signer = await nativeRoomCrypto.signer();
  const key = crypto.getRandomValues(new Uint8Array(32));
  return {
    channel,
    conn,
    signer,
    key,
    server: new FrameSealer(secret),
    room: new RoomFrameSealer(4, key, signer, nativeRoomCrypto),
  };
}

function roomKey(key: Uint8Array, signer: RoomSigner, next = 0) {
  return encodeMessage({
    t: "room_key",
    key: toBase64(key),
    epoch: 4,
    next,
    sig_key: toBase64(signer.publicKey),
  });
}

function say(from: string, text: string, id: number): Uint8Array {
  return encodeCompactChat(
    { t: "public", from, ts: 1, id, seq: id },
    encoder.encode(text),
    "varint",
  )!;
}

function texts(batch: { body: Uint8Array }[] | null): string[] {
  return (batch ?? []).map(({ body }) => decoder.decode(body));
}

Deno.test("a client channel takes the room key itself and reads room frames as public messages marked room", async () => {
  const { channel, conn, signer, key, server, room } = await client();
  conn.deliver(
    await server.seal(
      packBatches([
        roomKey(key, signer),
        encodeMessage({ t: "pong", re: 1 }),
      ])[0]!,
    ),
  );
  const first = await channel.receive();
  assert.deepEqual(first?.map((m) => (m.header as { t: string }).t), ["pong"]);
  conn.deliver(
    await room.seal(
      0,
      packBatches([say("ann", "hi", 1), say("bob", "yo", 2)])[0]!,
    ),
  );
  const batch = await channel.receive();
  assert.deepEqual(texts(batch), ["hi", "yo"]);
  assert.ok(batch!.every((m) => m.room === true));
  // The server's next own frame binds the one room frame before it.
  server.roomFrames = 1;
  conn.deliver(await server.seal(encodeMessage({ t: "pong", re: 2 })));
  assert.equal((await channel.receive())?.length, 1);
});

for (
  const [what, attack] of [
    ["before any room key", async (c: Awaited<ReturnType<typeof client>>) => {
      c.conn.deliver(await c.room.seal(0, say("ann", "hi", 1)));
    }],
    ["replayed", async (c: Awaited<ReturnType<typeof client>>) => {
      await keyed(c);
      const frame = await c.room.seal(0, say("ann", "hi", 1));
      c.conn.deliver(frame.slice());
      c.conn.deliver(frame);
    }],
    [
      "dropped (the next one comes)",
      async (c: Awaited<ReturnType<typeof client>>) => {
        await keyed(c);
        await c.room.seal(0, say("ann", "hi", 1));
        c.conn.deliver(await c.room.seal(1, say("ann", "again", 2)));
      },
    ],
    [
      "dropped (the server's own frame comes)",
      async (c: Awaited<ReturnType<typeof client>>) => {
        await keyed(c);
        await c.room.seal(0, say("ann", "hi", 1));
        c.server.roomFrames = 1;
        c.conn.deliver(
          await c.server.seal(encodeMessage({ t: "pong", re: 1 })),
        );
      },
    ],
    [
      "moved after the server's own frame",
      async (c: Awaited<ReturnType<typeof client>>) => {
        await keyed(c);
        const roomFrame = await c.room.seal(0, say("ann", "hi", 1));
        c.server.roomFrames = 1;
        c.conn.deliver(
          await c.server.seal(encodeMessage({ t: "pong", re: 1 })),
        );
        c.conn.deliver(roomFrame);
      },
    ],
    ["of another epoch", async (c: Awaited<ReturnType<typeof client>>) => {
      await keyed(c);
      const other = new RoomFrameSealer(5, c.key, c.signer, nativeRoomCrypto);
      c.conn.deliver(await other.seal(0, say("ann", "hi", 1)));
    }],
    [
      "signed by a member, not the server",
      async (c: Awaited<ReturnType<typeof client>>) => {
        await keyed(c);
        const forger = new RoomFrameSealer(
          4,
          c.key,
          await nativeRoomCrypto.signer(),
          nativeRoomCrypto,
        );
        c.conn.deliver(await forger.seal(0, say("ann", "hi", 1)));
      },
    ],
    [
      "carrying anything but public messages",
      async (c: Awaited<ReturnType<typeof client>>) => {
        await keyed(c);
        c.conn.deliver(
          await c.room.seal(0, encodeMessage({ t: "pong", re: 1 })),
        );
      },
    ],
  ] as const
) {
  Deno.test(`a room frame ${what} ends the session and shows nothing`, async () => {
    const c = await client();
    await attack(c);
    const shown: string[] = [];
    await assert.rejects(async () => {
      for (;;) shown.push(...texts(await c.channel.receive()));
    }, ChannelError);
    // Only what came before the bad frame, never the bad frame's messages.
    assert.deepEqual(shown, what === "replayed" ? ["hi"] : []);
  });
}

/** The client got its room key. */
async function keyed(c: Awaited<ReturnType<typeof client>>): Promise<void> {
  c.conn.deliver(await c.server.seal(roomKey(c.key, c.signer)));
}

Deno.test("a server channel sends a shared room frame between its own frames, in order, and binds it", async () => {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const channels = [0, 1].map(() => {
    const conn = new RecordingConnection();
    const channel = new SecureChannel(conn, {
      sender: new FrameSealer(secret),
      receiver: new FrameOpener(new Uint8Array(32)),
      transcriptHash: new Uint8Array(32),
    });
    return { conn, channel };
  });
  const room = new RoomFrames({
    crypto: nativeRoomCrypto,
    signer: await nativeRoomCrypto.signer(),
    minBytes: 1,
  });
  const { batch } = room.start();
  for (const { channel } of channels) {
    channel.sendEncoded(encodeMessage({ t: "pong", re: 1 }));
    batch.hold();
    channel.sendShared(batch);
  }
  batch.add(say("ann", "hi", 1));
  batch.add(say("bob", "yo", 2));
  for (const { channel } of channels) {
    channel.sendEncoded(encodeMessage({ t: "pong", re: 2 }));
    await channel.drain();
  }
  const [a, b] = channels;
  assert.equal(a!.conn.sent.length, 3);
  assert.deepEqual(a!.conn.sent[1], b!.conn.sent[1], "the same bytes");
  const opener = new FrameOpener(secret);
  const first = decodeBatch(await opener.open(a!.conn.sent[0] as Uint8Array));
  assert.deepEqual(first[0]!.header, { t: "pong", re: 1 });
  // After the room frame, the channel's frames bind one room frame.
  await assert.rejects(opener.open(a!.conn.sent[2] as Uint8Array));
  opener.roomFrames = 1;
  const last = decodeBatch(await opener.open(a!.conn.sent[2] as Uint8Array));
  assert.deepEqual(last[0]!.header, { t: "pong", re: 2 });
});
