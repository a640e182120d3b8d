/**
 * The stall rule (docs/PROTOCOL.md 7.4) on a real server and real sockets:
 * while recipients hold senders back, a reader that reads slowly but
 * steadily is not cut off, though what it is sent comes in frames of
 * hundreds of KiB that take it many stall periods each; one that reads
 * nothing is. What is queued for a reader falls as the kernel takes each
 * piece of a frame (direct_write.ts), not only once the whole frame is
 * written: before, such a reader showed no fall for periods at a time, and
 * being the most queued it was cut off first. Over TLS a frame is counted
 * off as the TCP socket in front of the server's TLS bridge writes it
 * (tls_bridge.ts), not when the TLS layer has taken it: the loopback pair
 * between the two held megabytes for each reader, not counted, so the one
 * that reads nothing never held senders back long enough to be cut off (and
 * under load the slow one, whose bytes left the bridge in bursts, was).
 */

import assert from "node:assert/strict";
import { utf8Encode } from "../../src/crypto/bytes.ts";
import { decodeBatch, packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { parseServerMessage } from "../../src/protocol/parse_server_message.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import {
  certificateNames,
  makeCertificate,
  type TlsCredentials,
} from "../../src/server/tls_certificate.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { waitForLog } from "../_helpers/bystanders.ts";
import { TcpChatPeer } from "../_helpers/raw_tcp.ts";
import {
  shrinkReceiveBuffer,
  shrinkSendBuffers,
} from "../_helpers/send_buffer.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/** The senders flood on purpose: the rate limits would stop them first. */
const RATE_LIMITS_LIFTED = {
  messagesPerSecond: 0,
  messagesPerSecondPerAddress: 0,
  maxBacklogBytesPerAddress: 0,
  maxConnectionsPerAddress: 100,
  handshakesPerSecond: 0,
  maxUnfinishedPerAddress: 0,
};
const BOUND = 512 * 1024;
/**
 * Two seconds, not one: what a reader takes is seen a write at a time, up
 * to 64 KiB (a piece, direct_write.ts; over TLS what the bridge read from
 * its loopback socket at once), and on a loaded machine, with the server's
 * work on the same thread, the slow reader took about 64 KiB a second, not
 * 160: with 1000 ms, half of ten loaded runs saw a period without a write.
 */
const STALL_MS = 2000;
const SENDERS = 4;
const MESSAGES = 200;
const BODY_BYTES = 4000;
/**
 * One message in this many goes to the reader that reads nothing: half, 1.6
 * MB in all (with MESSAGES), more than the loopback pair of the server's TLS
 * bridge takes in for it (up to 2.7 MB seen, none of it counted before the
 * bridge's front writes were): with less, the bridge could hide it all.
 */
const SILENT_EVERY = 2;
/**
 * The slow reader takes 16 KiB every 100 ms, about 160 KB a second (less
 * under load): a few of the server's 64 KiB pieces, a fraction of the frames it
 * is sent (hundreds of KiB each, as the server packs them).
 */
const SLOW_READ_BYTES = 16 * 1024;
const SLOW_READ_EVERY_MS = 100;
/**
 * The server's kernel send buffer, as a slow link's would be (the kernel
 * doubles it): on loopback it grows to megabytes, which hid the slow
 * reader's progress from the server and took in all that was sent to the
 * one that reads nothing (nothing queued, it was never cut off). Set on the
 * server's port only: the TLS bridge's loopback sockets keep the buffers
 * they have in production.
 */
const SEND_BUFFER_BYTES = 16 * 1024;
/**
 * The slow reader's kernel receive buffer (doubled too): grown on loopback
 * to hundreds of KiB, whose window opens again only once half is free, the
 * reader was seen to take nothing for over a stall period at a time, and
 * was cut off, over TCP as over TLS, in 5 runs of 10 on a loaded machine.
 */
const RECEIVE_BUFFER_BYTES = 16 * 1024;

function body(sender: number, n: number): Uint8Array {
  return utf8Encode(`s${sender}:${n}:`.padEnd(BODY_BYTES, "x"));
}

function recipientOf(n: number): string {
  return n % SILENT_EVERY === SILENT_EVERY - 1 ? "silent" : "slow";
}

async function flood(peer: TcpChatPeer, sender: number): Promise<void> {
  const encoded: Uint8Array[] = [];
  for (let n = 0; n < MESSAGES; n++) {
    const message: ClientMessage = {
      t: "msg",
      id: 1000 + n,
      to: recipientOf(n),
    };
    encoded.push(encodeMessage(message, body(sender, n)));
  }
  for (const batch of packBatches(encoded)) {
    // Waits while the server does not read us: the backpressure.
    const sent = await peer.sendFrame(await peer.keys.sender.seal(batch));
    assert.ok(sent, `sender ${sender} was cut off`);
  }
}

/** The texts of the private messages `peer` reads until it has `expected`. */
async function drain(peer: TcpChatPeer, expected: number): Promise<string[]> {
  const texts: string[] = [];
  const decoder = new TextDecoder();
  while (texts.length < expected) {
    let frame: Uint8Array;
    try {
      frame = await peer.tcp.readBinary(WAIT_MS);
    } catch (error) {
      throw new Error(
        `the slow reader lost its connection after ${texts.length} of ${expected} messages`,
        { cause: error },
      );
    }
    for (
      const { header, body } of decodeBatch(
        await peer.keys.receiver.open(frame),
      )
    ) {
      const message = parseServerMessage(header);
      if (message.t === "private") {
        texts.push(decoder.decode(body).replace(/x+$/, ""));
      } else if (message.t === "bye") {
        throw new Error(
          `the slow reader was cut off after ${texts.length} of ${expected} messages: ${message.text}`,
        );
      }
    }
  }
  return texts;
}

/**
 * Senders flood a slow reader and a silent one; the slow one must get every
 * message and the silent one be cut off. Over TLS (`tls`: the server's
 * certificate) if given, every peer's connection.
 */
async function slowAndSilent(tls?: TlsCredentials): Promise<void> {
  await using server = await startTestServer({
    connectionLimits: {
      ...RATE_LIMITS_LIFTED,
      maxQueuedBytes: BOUND,
      queueStallMs: STALL_MS,
    },
    ...(tls === undefined ? {} : { tls }),
  });
  shrinkSendBuffers(server.port, SEND_BUFFER_BYTES);
  const peers: TcpChatPeer[] = [];
  const connect = async (name: string) => {
    const peer = await TcpChatPeer.connect(
      server.port,
      server.spki,
      tls === undefined ? undefined : { caCert: tls.cert },
    );
    peers.push(peer);
    assert.equal((await peer.register(name)).t, "welcome");
    return peer;
  };
  try {
    const slow = await connect("slow");
    shrinkReceiveBuffer(
      (slow.tcp.conn.localAddr as Deno.NetAddr).port,
      server.port,
      RECEIVE_BUFFER_BYTES,
    );
    await connect("silent");
    const senders: TcpChatPeer[] = [];
    for (let i = 0; i < SENDERS; i++) senders.push(await connect(`s${i}`));
    slow.tcp.pace = {
      bytes: SLOW_READ_BYTES,
      before: () =>
        new Promise((resolve) => setTimeout(resolve, SLOW_READ_EVERY_MS)),
    };
    const flooding = Promise.all(senders.map((peer, i) => flood(peer, i)));
    flooding.catch(() => {});
    const perSender = Array.from(
      { length: MESSAGES },
      (_, n) => n,
    ).filter((n) => recipientOf(n) === "slow");
    const texts = await drain(slow, SENDERS * perSender.length);
    await flooding;

    // The server did hold the senders back, and cut off the reader that
    // read nothing meanwhile.
    assert.ok(
      server.logs.some((line) => /not reading senders/.test(line)),
      "the senders were held back",
    );
    await waitForLog(
      server,
      /disconnecting silent \(.*\): you are not reading your messages fast enough/,
    );
    for (let s = 0; s < SENDERS; s++) {
      assert.deepEqual(
        texts.filter((t) => t.startsWith(`s${s}:`)),
        perSender.map((n) => `s${s}:${n}:`),
        `from s${s}, all, once, in order`,
      );
    }
  } finally {
    for (const peer of peers) peer.drop();
  }
}

Deno.test("startServer's stall rule cuts off a reader that reads nothing, not one that reads slowly through frames larger than it reads in a stall period", async () => {
  await slowAndSilent();
});

Deno.test("startServer's stall rule over TLS cuts off a reader that reads nothing, not one that reads slowly through frames larger than it reads in a stall period", async () => {
  await slowAndSilent(
    await makeCertificate(certificateNames([]), new Date()),
  );
});
