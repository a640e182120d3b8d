/**
 * What is queued for a reader, counted piece by piece as the server writes
 * large frames in pieces (direct_write.ts), leaves the server's queued
 * gauge whole when the reader goes: many frames of hundreds of KiB held for
 * a reader that reads nothing, which then closes its socket. Left in the
 * gauge, they would hold every sender back for ever once past the bound.
 */

import assert from "node:assert/strict";
import { utf8Encode } from "../../src/crypto/bytes.ts";
import { packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { TcpChatPeer } from "../_helpers/raw_tcp.ts";
import { shrinkSendBuffers } from "../_helpers/send_buffer.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const RATE_LIMITS_LIFTED = {
  messagesPerSecond: 0,
  messagesPerSecondPerAddress: 0,
  maxBacklogBytesPerAddress: 0,
  maxConnectionsPerAddress: 100,
  handshakesPerSecond: 0,
  maxUnfinishedPerAddress: 0,
};
const SENDERS = 3;
const MESSAGES = 200;
const BODY_BYTES = 4000;

async function flood(peer: TcpChatPeer, sender: number): Promise<void> {
  const encoded = Array.from(
    { length: MESSAGES },
    (_, n) =>
      encodeMessage(
        { t: "msg", id: 1000 + n, to: "silent" },
        utf8Encode(`s${sender}:${n}:`.padEnd(BODY_BYTES, "x")),
      ),
  );
  for (const batch of packBatches(encoded)) {
    assert.ok(await peer.sendFrame(await peer.keys.sender.seal(batch)));
  }
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("startServer's queued gauge falls to 0 when a reader with large frames held in pieces closes its socket", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      ...RATE_LIMITS_LIFTED,
      // Nobody held back, nobody cut off: only the count is under test.
      maxQueuedBytes: 256 * 1024 * 1024,
      queueStallMs: 10 * WAIT_MS,
    },
  });
  // As a slow link's: on loopback the kernel would take it all.
  shrinkSendBuffers(server.port, 16 * 1024);
  const peers: TcpChatPeer[] = [];
  const connect = async (name: string) => {
    const peer = await TcpChatPeer.connect(server.port, server.spki);
    peers.push(peer);
    assert.equal((await peer.register(name)).t, "welcome");
    return peer;
  };
  try {
    const silent = await connect("silent");
    const senders: TcpChatPeer[] = [];
    for (let i = 0; i < SENDERS; i++) senders.push(await connect(`s${i}`));
    await Promise.all(senders.map((peer, i) => flood(peer, i)));
    const all = SENDERS * MESSAGES * BODY_BYTES;
    // Most of it waits for the reader, in frames larger than a piece.
    await until(
      `queued for silent (${server.queuedBytes} bytes)`,
      () => server.queuedBytes > all / 2,
    );
    silent.drop();
    await until(
      `nothing queued once silent went (${server.queuedBytes} bytes)`,
      () => server.queuedBytes === 0,
    );
    assert.ok(server.peakQueuedBytes > all / 2);
  } finally {
    for (const peer of peers) peer.drop();
  }
});
