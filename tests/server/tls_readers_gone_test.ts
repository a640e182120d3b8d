/**
 * Over TLS what is queued for a reader counts until the bridge's front
 * socket writes it (tls_bridge.ts FrontWrites): it must leave the server's
 * queued gauge whole when the reader goes, however it goes. Many TLS
 * readers, each sent hundreds of KiB in frames larger than it reads, each
 * gone in the middle of a frame: left in the gauge, their bytes would add
 * up over many disconnects until the aggregate bound held every sender
 * back for ever.
 */

import assert from "node:assert/strict";
import { utf8Encode } from "../../src/crypto/bytes.ts";
import { packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import {
  certificateNames,
  makeCertificate,
} from "../../src/server/tls_certificate.ts";
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
const READERS = 12;
const MESSAGES = 60;
const BODY_BYTES = 4000;

async function flood(sender: TcpChatPeer, to: string): Promise<void> {
  const encoded = Array.from(
    { length: MESSAGES },
    (_, n) =>
      encodeMessage(
        { t: "msg", id: 1000 + n, to },
        utf8Encode(`${to}:${n}:`.padEnd(BODY_BYTES, "x")),
      ),
  );
  for (const batch of packBatches(encoded)) {
    assert.ok(await sender.sendFrame(await sender.keys.sender.seal(batch)));
  }
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("startServer over TLS: the queued gauge falls to 0 when many TLS readers go in the middle of a frame", async () => {
  const tls = await makeCertificate(certificateNames([]), new Date());
  await using server = await startTestServer({
    connectionLimits: {
      ...RATE_LIMITS_LIFTED,
      // Nobody held back, nobody cut off: only the count is under test.
      maxQueuedBytes: 256 * 1024 * 1024,
      queueStallMs: 10 * WAIT_MS,
    },
    tls,
  });
  // As a slow link's: on loopback the kernel would take it all.
  shrinkSendBuffers(server.port, 16 * 1024);
  const peers: TcpChatPeer[] = [];
  const connect = async (name: string) => {
    const peer = await TcpChatPeer.connect(server.port, server.spki, {
      caCert: tls.cert,
    });
    peers.push(peer);
    assert.equal((await peer.register(name)).t, "welcome");
    return peer;
  };
  try {
    const readers: TcpChatPeer[] = [];
    for (let i = 0; i < READERS; i++) readers.push(await connect(`r${i}`));
    const sender = await connect("sender");
    for (let i = 0; i < READERS; i++) await flood(sender, `r${i}`);
    const all = READERS * MESSAGES * BODY_BYTES;
    await until(
      `queued for the readers (${server.queuedBytes} bytes)`,
      () => server.queuedBytes > all / 2,
    );
    // Half of them take a few KiB first, the start of a frame: the bridge
    // is then writing to them as they go.
    for (const [i, reader] of readers.entries()) {
      if (i % 2 === 0) await reader.tcp.conn.read(new Uint8Array(8 * 1024));
      reader.drop();
    }
    await until(
      `nothing queued once the readers went (${server.queuedBytes} bytes)`,
      () => server.queuedBytes === 0,
    );
  } finally {
    for (const peer of peers) peer.drop();
  }
});
