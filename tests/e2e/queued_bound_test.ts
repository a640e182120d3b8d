/**
 * Memory bounded under a flood (issue 21): many senders with their rate
 * limits lifted, recipients that stop reading. What the server queues for
 * recipients all together must stay near `maxQueuedBytes` (it stops reading
 * the senders meanwhile), and once the recipients read again every message
 * arrives, once, in each sender's order.
 */

import assert from "node:assert/strict";
import { utf8Encode } from "../../src/crypto/bytes.ts";
import { decodeBatch, packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { parseServerMessage } from "../../src/protocol/parse_server_message.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { waitForLog } from "../_helpers/bystanders.ts";
import { TcpChatPeer } from "../_helpers/raw_tcp.ts";
import { nativeRoomCrypto } from "../../src/crypto/native_room.ts";
import {
  ROOM_FRAME_VERSION,
  RoomFrameOpener,
} from "../../src/crypto/room_frame.ts";
import { parseRoomKey } from "../../src/transport/secure_channel.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/** Every test here floods on purpose: the per-client and per-address limits would stop it first. */
const RATE_LIMITS_LIFTED = {
  messagesPerSecond: 0,
  messagesPerSecondPerAddress: 0,
  maxBacklogBytesPerAddress: 0,
  maxConnectionsPerAddress: 100,
  handshakesPerSecond: 0,
  maxUnfinishedPerAddress: 0,
};
const BOUND = 1024 * 1024;
const SENDERS = 6;
const RECIPIENTS = 4;
/** Per sender: 6 x 2,400 x 2 KB = 29 MB, far past what 4 sockets buffer. */
const MESSAGES = 2400;
const PER_FRAME = 40;
const BODY_BYTES = 2000;
/**
 * What may be routed past the bound before the server looks again: one run
 * per sender (run_budget.ts: 1/256 of the bound, here 2 messages; at most 32
 * here for room), and its replies.
 */
const SLACK = SENDERS * 32 * (BODY_BYTES + 256);

function body(sender: number, n: number): Uint8Array {
  const head = `s${sender}:${n}:`;
  return utf8Encode(head.padEnd(BODY_BYTES, "x"));
}

async function flood(peer: TcpChatPeer, sender: number): Promise<void> {
  let id = 1000;
  for (let n = 0; n < MESSAGES; n += PER_FRAME) {
    const encoded: Uint8Array[] = [];
    for (let k = n; k < Math.min(MESSAGES, n + PER_FRAME); k++) {
      const message: ClientMessage = {
        t: "msg",
        id: id++,
        to: `r${k % RECIPIENTS}`,
      };
      encoded.push(encodeMessage(message, body(sender, k)));
    }
    for (const batch of packBatches(encoded)) {
      // Blocks while the server does not read us: the backpressure.
      const sent = await peer.sendFrame(await peer.keys.sender.seal(batch));
      assert.ok(sent, `sender ${sender} was cut off`);
    }
  }
}

/** Reads private messages until `expected` have come; returns their texts. */
async function drain(peer: TcpChatPeer, expected: number): Promise<string[]> {
  const texts: string[] = [];
  const decoder = new TextDecoder();
  while (texts.length < expected) {
    const frame = await peer.tcp.readBinary(60_000);
    const plaintext = await peer.keys.receiver.open(frame);
    for (const { header, body } of decodeBatch(plaintext)) {
      const message = parseServerMessage(header);
      if (message.t === "private") {
        texts.push(decoder.decode(body).replace(/x+$/, ""));
      }
    }
  }
  return texts;
}

Deno.test("startServer holds senders back while what is queued for recipients passes maxQueuedBytes, and loses nothing", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      ...RATE_LIMITS_LIFTED,
      maxQueuedBytes: BOUND,
      // Long enough that no recipient is cut off while it does not read.
      queueStallMs: 600_000,
    },
  });
  const recipients: TcpChatPeer[] = [];
  const senders: TcpChatPeer[] = [];
  try {
    for (let i = 0; i < RECIPIENTS; i++) {
      const peer = await TcpChatPeer.connect(server.port, server.spki);
      recipients.push(peer);
      assert.equal((await peer.register(`r${i}`)).t, "welcome");
    }
    for (let i = 0; i < SENDERS; i++) {
      const peer = await TcpChatPeer.connect(server.port, server.spki);
      senders.push(peer);
      assert.equal((await peer.register(`s${i}`)).t, "welcome");
    }
    const flooding = Promise.all(senders.map((peer, i) => flood(peer, i)));
    flooding.catch(() => {});
    // The recipients read nothing until the server has held senders back.
    await waitForLog(server, /not reading senders/, 60_000);
    const expected = (SENDERS * MESSAGES) / RECIPIENTS;
    const received = await Promise.all(
      recipients.map((peer) => drain(peer, expected)),
    );
    await flooding;

    assert.ok(
      server.peakQueuedBytes <= BOUND + SLACK,
      `peak queued ${server.peakQueuedBytes} bytes, bound ${BOUND} + ${SLACK}`,
    );
    received.forEach((texts, r) => {
      // Each sender's messages to r, all of them, once, in order.
      for (let s = 0; s < SENDERS; s++) {
        const mine = texts.filter((t) => t.startsWith(`s${s}:`));
        const want = Array.from(
          { length: MESSAGES / RECIPIENTS },
          (_, j) => `s${s}:${j * RECIPIENTS + r}:`,
        );
        assert.deepEqual(mine, want, `r${r} from s${s}`);
      }
      assert.equal(texts.length, expected);
    });
  } finally {
    for (const peer of [...recipients, ...senders]) peer.drop();
  }
});

// --- Room frames (PROTOCOL.md 3.8): one batch held by every member ---------
// That a batch counts once per member holding it is asserted on RoomBatch
// (tests/server/room_frames_test.ts); here the bound holds end to end, with
// every message delivered once and in order in room frames.

const MEMBERS = 4;
const ROOM_SENDERS = 3;
const ROOM_MESSAGES = 600;
/** One run per sender past the bound, each message counted per recipient. */
const ROOM_SLACK = ROOM_SENDERS * 32 * (BODY_BYTES + 256) *
  (MEMBERS + ROOM_SENDERS);

async function floodRoom(peer: TcpChatPeer, sender: number): Promise<void> {
  let id = 1000;
  for (let n = 0; n < ROOM_MESSAGES; n += PER_FRAME) {
    const encoded: Uint8Array[] = [];
    for (let k = n; k < Math.min(ROOM_MESSAGES, n + PER_FRAME); k++) {
      encoded.push(encodeMessage({ t: "say", id: id++ }, body(sender, k)));
    }
    for (const batch of packBatches(encoded)) {
      const sent = await peer.sendFrame(await peer.keys.sender.seal(batch));
      assert.ok(sent, `sender ${sender} was cut off`);
    }
  }
}

/** Reads (and drops) whatever comes for `peer` until it is dropped. */
async function discard(peer: TcpChatPeer): Promise<void> {
  try {
    for (;;) await peer.tcp.readBinary(600_000);
  } catch {
    // Dropped at the end of the test.
  }
}

/** A member's public messages, from room frames and its own frames. */
async function drainRoom(
  peer: TcpChatPeer,
  room: RoomFrameOpener,
  expected: number,
): Promise<{ texts: string[]; roomFrames: number }> {
  const texts: string[] = [];
  const decoder = new TextDecoder();
  let roomFrames = 0;
  while (texts.length < expected) {
    const frame = await peer.tcp.readBinary(60_000);
    let plaintext: Uint8Array;
    if (frame[0] === ROOM_FRAME_VERSION) {
      plaintext = await room.open(frame);
      peer.keys.receiver.roomFrames++;
      roomFrames++;
    } else plaintext = await peer.keys.receiver.open(frame);
    for (const { header, body } of decodeBatch(plaintext)) {
      if ((header as { t?: unknown }).t === "public") {
        texts.push(decoder.decode(body).replace(/x+$/, ""));
      }
    }
  }
  return { texts, roomFrames };
}

Deno.test("startServer with room frames holds senders back while what is queued passes maxQueuedBytes, and loses nothing", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      ...RATE_LIMITS_LIFTED,
      maxQueuedBytes: BOUND,
      queueStallMs: 600_000,
    },
    roomFrames: { crypto: nativeRoomCrypto },
  });
  const members: { peer: TcpChatPeer; room: RoomFrameOpener }[] = [];
  const senders: TcpChatPeer[] = [];
  try {
    for (let i = 0; i < MEMBERS; i++) {
      const peer = await TcpChatPeer.connect(server.port, server.spki);
      const welcome = await peer.register(`m${i}`, {
        compact: true,
        acks: true,
        varint: true,
        room_frames: true,
      });
      assert.equal(welcome.t, "welcome");
      // The room key comes right after the welcome, maybe in a later frame.
      while (
        !peer.skipped.some((h) => (h as { t?: unknown }).t === "room_key")
      ) {
        const frame = await peer.tcp.readBinary(WAIT_MS);
        for (
          const { header } of decodeBatch(await peer.keys.receiver.open(frame))
        ) {
          peer.skipped.push(header);
        }
      }
      const key = peer.skipped.find((h) =>
        (h as { t?: unknown }).t === "room_key"
      );
      members.push({
        peer,
        room: RoomFrameOpener.create(parseRoomKey(key), nativeRoomCrypto),
      });
    }
    for (let i = 0; i < ROOM_SENDERS; i++) {
      const peer = await TcpChatPeer.connect(server.port, server.spki);
      senders.push(peer);
      assert.equal((await peer.register(`s${i}`)).t, "welcome");
    }
    // The senders read all along (they hear each other); the members not
    // until the server holds the senders back.
    const discarding = senders.map(discard);
    const flooding = Promise.all(senders.map((peer, i) => floodRoom(peer, i)));
    flooding.catch(() => {});
    await waitForLog(server, /not reading senders/, 60_000);
    const expected = ROOM_SENDERS * ROOM_MESSAGES;
    const received = await Promise.all(
      members.map(({ peer, room }) => drainRoom(peer, room, expected)),
    );
    await flooding;

    assert.ok(
      server.peakQueuedBytes <= BOUND + ROOM_SLACK,
      `peak queued ${server.peakQueuedBytes} bytes, bound ${BOUND} + ${ROOM_SLACK}`,
    );
    for (const [m, { texts, roomFrames }] of received.entries()) {
      assert.ok(roomFrames > 0, `m${m} got its messages in room frames`);
      for (let s = 0; s < ROOM_SENDERS; s++) {
        assert.deepEqual(
          texts.filter((t) => t.startsWith(`s${s}:`)),
          Array.from({ length: ROOM_MESSAGES }, (_, j) => `s${s}:${j}:`),
          `m${m} from s${s}`,
        );
      }
    }
    for (const peer of senders) peer.drop();
    await Promise.all(discarding);
  } finally {
    for (const peer of [...members.map((m) => m.peer), ...senders]) {
      peer.drop();
    }
  }
});

// --- Everyone floods (issue 21's 99 x 2048 cell, scaled down) --------------
// Every peer sends to the room as fast as its socket takes it and reads
// everyone else's all along. The server must hold both bounds (what is
// queued for recipients, and what is read and not yet routed), cut nobody
// (a reader, however slow, is not stuck), and lose nothing.

const FLOODERS = 10;
const FLOOD_MESSAGES = 400;
const FLOOD_BODY_BYTES = 1000;
const UNREAD_BOUND = 256 * 1024;
/**
 * Smaller than the other floods' bound: the server routes a frame's last run
 * with the other connections' runs of its turn (turn_batch.ts), one frame per
 * connection per turn, and the sockets drain between turns; 10 flooders
 * queued about 0.75 MiB at most, so a 1 MiB bound was never reached.
 */
const FLOOD_BOUND = 256 * 1024;
/** One run per sender past the bound, each message sealed per recipient. */
const FLOOD_SLACK = FLOODERS * 32 * (FLOOD_BODY_BYTES + 256) * FLOODERS;
/**
 * Past the unread mark, what each connection had already read: a frame of
 * ours (PER_FRAME messages) and one socket read's worth.
 */
const UNREAD_SLACK = FLOODERS *
  (PER_FRAME * (FLOOD_BODY_BYTES + 64) + 64 * 1024);

function floodBody(sender: number, n: number): Uint8Array {
  return utf8Encode(`f${sender}:${n}:`.padEnd(FLOOD_BODY_BYTES, "x"));
}

async function floodPublic(peer: TcpChatPeer, sender: number): Promise<void> {
  let id = 1000;
  for (let n = 0; n < FLOOD_MESSAGES; n += PER_FRAME) {
    const encoded: Uint8Array[] = [];
    for (let k = n; k < Math.min(FLOOD_MESSAGES, n + PER_FRAME); k++) {
      encoded.push(
        encodeMessage({ t: "say", id: id++ }, floodBody(sender, k)),
      );
    }
    for (const batch of packBatches(encoded)) {
      const sent = await peer.sendFrame(await peer.keys.sender.seal(batch));
      assert.ok(sent, `flooder ${sender} was cut off`);
    }
  }
}

/** Everyone else's public messages, until all of them have come. */
async function readPublic(peer: TcpChatPeer, me: number): Promise<string[]> {
  const texts: string[] = [];
  const decoder = new TextDecoder();
  const expected = (FLOODERS - 1) * FLOOD_MESSAGES;
  while (texts.length < expected) {
    let frame: Uint8Array;
    try {
      frame = await peer.tcp.readBinary(60_000);
    } catch (error) {
      throw new Error(
        `f${me} lost its connection after ${texts.length} of ${expected} messages`,
        { cause: error },
      );
    }
    for (
      const { header, body } of decodeBatch(
        await peer.keys.receiver.open(frame),
      )
    ) {
      const message = parseServerMessage(header);
      if (message.t === "public") {
        texts.push(decoder.decode(body).replace(/x+$/, ""));
      } else if (message.t === "bye" || message.t === "error") {
        throw new Error(`f${me} was told: ${JSON.stringify(message)}`);
      }
    }
  }
  return texts;
}

Deno.test("startServer under everyone flooding the room holds both bounds, cuts nobody and loses nothing", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      ...RATE_LIMITS_LIFTED,
      maxQueuedBytes: FLOOD_BOUND,
      maxUnreadBytes: UNREAD_BOUND,
      // Short: a reader that is slow but moving must still not be cut.
      queueStallMs: 1000,
    },
  });
  const peers: TcpChatPeer[] = [];
  try {
    for (let i = 0; i < FLOODERS; i++) {
      const peer = await TcpChatPeer.connect(server.port, server.spki);
      peers.push(peer);
      assert.equal((await peer.register(`f${i}`)).t, "welcome");
    }
    const reading = peers.map(readPublic);
    const flooding = peers.map(floodPublic);
    const received = await Promise.all(reading);
    await Promise.all(flooding);

    assert.deepEqual(
      server.logs.filter((line) => /cutting off|not reading your/.test(line)),
      [],
    );
    assert.ok(
      server.peakQueuedBytes > FLOOD_BOUND,
      `the flood passed the bound (peak ${server.peakQueuedBytes})`,
    );
    assert.ok(
      server.peakQueuedBytes <= FLOOD_BOUND + FLOOD_SLACK,
      `peak queued ${server.peakQueuedBytes} bytes, bound ${FLOOD_BOUND} + ${FLOOD_SLACK}`,
    );
    assert.ok(
      server.peakUnreadBytes <= UNREAD_BOUND + UNREAD_SLACK,
      `peak unread ${server.peakUnreadBytes} bytes, bound ${UNREAD_BOUND} + ${UNREAD_SLACK}`,
    );
    received.forEach((texts, r) => {
      for (let s = 0; s < FLOODERS; s++) {
        if (s === r) continue;
        assert.deepEqual(
          texts.filter((t) => t.startsWith(`f${s}:`)),
          Array.from({ length: FLOOD_MESSAGES }, (_, j) => `f${s}:${j}:`),
          `f${r} from f${s}`,
        );
      }
    });
  } finally {
    for (const peer of peers) peer.drop();
  }
});
