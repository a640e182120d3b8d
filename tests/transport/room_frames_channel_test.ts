/**
 * SecureChannel and room frames (docs/PROTOCOL.md 3.8), both ways: a
 * client's channel takes a room key and room frames; a server's channel
 * sends a frame sealed once for many in order with its own frames.
 */

import assert from "node:assert/strict";
import { fromBase64, toBase64 } from "../../src/crypto/bytes.ts";
import { nativeRoomCrypto } from "../../src/crypto/native_room.ts";
import {
  RoomFrameOpener,
  RoomFrameSealer,
} from "../../src/crypto/room_frame.ts";
import { FrameOpener, FrameSealer } from "../../src/crypto/session_cipher.ts";
import { decodeBatch, packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeCompactChat } from "../../src/protocol/compact_chat.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { RoomFrames } from "../../src/server/room_frames.ts";
import {
  ChannelError,
  SecureChannel,
} from "../../src/transport/secure_channel.ts";
import { RecordingConnection } from "../_helpers/recording_connection.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A client channel and what the server would seal for it. */
function client() {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const conn = new RecordingConnection();
  const channel = new SecureChannel(conn, {
    sender: new FrameSealer(new Uint8Array(32)),
    receiver: new FrameOpener(secret),
    transcriptHash: new Uint8Array(32),
  }, { roomCrypto: nativeRoomCrypto });
  const macKey = crypto.getRandomValues(new Uint8Array(32));
  const key = crypto.getRandomValues(new Uint8Array(32));
  const sealer = new RoomFrameSealer(4, key, nativeRoomCrypto);
  const mac = nativeRoomCrypto.mac(macKey);
  return {
    channel,
    conn,
    macKey,
    key,
    server: new FrameSealer(secret),
    /** Our copy of a room frame. */
    room: {
      seal: async (counter: number, batch: Uint8Array) =>
        (await (await sealer.seal(counter, batch)).frameFor(mac)).slice(),
    },
  };
}

function roomKey(key: Uint8Array, macKey: Uint8Array, next = 0) {
  return encodeMessage({
    t: "room_key",
    key: toBase64(key),
    epoch: 4,
    next,
    mac_key: toBase64(macKey),
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
  const { channel, conn, macKey, key, server, room } = await client();
  conn.deliver(
    await server.seal(
      packBatches([
        roomKey(key, macKey),
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
      const other = new RoomFrameSealer(5, c.key, nativeRoomCrypto);
      const mac = nativeRoomCrypto.mac(c.macKey);
      c.conn.deliver(
        (await (await other.seal(0, say("ann", "hi", 1))).frameFor(mac))
          .slice(),
      );
    }],
    [
      "made by a member (the room key, its own MAC key)",
      async (c: Awaited<ReturnType<typeof client>>) => {
        await keyed(c);
        const forger = new RoomFrameSealer(4, c.key, nativeRoomCrypto);
        const theirs = nativeRoomCrypto.mac(new Uint8Array(32).fill(1));
        c.conn.deliver(
          (await (await forger.seal(0, say("ann", "hi", 1))).frameFor(theirs))
            .slice(),
        );
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
  c.conn.deliver(await c.server.seal(roomKey(c.key, c.macKey)));
}

Deno.test("a server channel sends a shared room frame between its own frames, in order, with its member's MAC, and binds it", async () => {
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
  const room = new RoomFrames({ crypto: nativeRoomCrypto, minBytes: 1 });
  const openers = channels.map(({ channel }) => {
    const member = room.memberKey();
    channel.roomMac = member.mac;
    const message = room.keyMessage(member.key);
    return RoomFrameOpener.create({
      key: fromBase64(message.key),
      epoch: message.epoch,
      next: message.next,
      macKey: member.key,
    }, nativeRoomCrypto);
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
  const [roomA, roomB] = [a!, b!].map(({ conn }) => conn.sent[1] as Uint8Array);
  assert.deepEqual(
    roomA!.subarray(0, -32),
    roomB!.subarray(0, -32),
    "the same bytes but the MAC",
  );
  assert.notDeepEqual(roomA!.subarray(-32), roomB!.subarray(-32));
  // Each member opens its own copy, and not the other's.
  const texts0 = decodeBatch(await openers[0]!.open(roomA!));
  assert.equal(texts0.length, 2);
  await assert.rejects(openers[1]!.open(roomA!), /MAC/);
  assert.equal(decodeBatch(await openers[1]!.open(roomB!)).length, 2);
  const opener = new FrameOpener(secret);
  const first = decodeBatch(await opener.open(a!.conn.sent[0] as Uint8Array));
  assert.deepEqual(first[0]!.header, { t: "pong", re: 1 });
  // After the room frame, the channel's frames bind one room frame.
  await assert.rejects(opener.open(a!.conn.sent[2] as Uint8Array));
  opener.roomFrames = 1;
  const last = decodeBatch(await opener.open(a!.conn.sent[2] as Uint8Array));
  assert.deepEqual(last[0]!.header, { t: "pong", re: 2 });
});
