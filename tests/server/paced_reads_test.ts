/**
 * A peer sending valid pings a byte per TCP segment, against a real server
 * on an ephemeral port: every segment was a read of its own (a wake-up, a
 * buffer, a turn of the parser), 16,700 a second from 60 such peers. The
 * server counts the reads of upgraded sockets (readPaceStats); a trickler's
 * are bounded by the small-read rate, and honest users are never paused.
 */

import assert from "node:assert/strict";
import { assertStillChatting, bystanders } from "../_helpers/bystanders.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { clientFrame, Opcode, TcpChatPeer } from "../_helpers/raw_tcp.ts";
import { WAIT_MS } from "../_helpers/patience.ts";
import {
  paceReads,
  READ_PAUSE_MS,
  readPaceFor,
  readPaceStats,
} from "../../src/server/paced_reads.ts";
import { DEFAULT_CONNECTION_LIMITS } from "../../src/server/config.ts";
import { until } from "../_helpers/bystanders.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import {
  FILE_ACK_BYTES,
  FILE_CHUNK_TAG_BYTES,
  FILE_WINDOW_BYTES,
  MAX_FILE_CHUNK_BYTES,
} from "../../src/protocol/limits.ts";
import {
  type AddressInfo,
  createServer,
  type Server,
  type Socket,
} from "node:net";

/** `peer` once the server is past its handshake (an unregistered `list`). */
async function pastHandshake(peer: TcpChatPeer): Promise<TcpChatPeer> {
  const reply = await peer.request({ t: "list" });
  assert.equal(reply.t, "error", JSON.stringify(reply));
  return peer;
}

/**
 * Sends `pings` masked pings a byte per write, each write after a timer's
 * turn (the server reads each before the next, unless it does not read),
 * while reading the pongs; resolves once every pong is back.
 */
async function tricklePings(peer: TcpChatPeer, pings: number): Promise<void> {
  // Each write its own segment, as an attacker's would be (no Nagle).
  (peer.tcp.conn as Deno.TcpConn).setNoDelay(true);
  let pongs = 0;
  const reading = (async () => {
    while (pongs < pings) {
      const frame = await peer.tcp.readFrame(WAIT_MS);
      assert.ok(frame !== null, `closed after ${pongs} pongs`);
      if (frame.opcode === Opcode.pong) pongs++;
    }
  })();
  const ping = clientFrame(Opcode.ping, new Uint8Array(0));
  for (let i = 0; i < pings; i++) {
    for (const byte of ping) {
      assert.ok(await peer.tcp.write(new Uint8Array([byte])), "write failed");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  await reading;
}

Deno.test("startServer reads a peer that sends a byte per segment no more often than its small-read rate and pauses allow, while others chat", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const peer = await pastHandshake(
    await TcpChatPeer.connect(server.port, server.spki),
  );
  try {
    const pings = 400;
    const writes = pings * clientFrame(Opcode.ping, new Uint8Array(0)).length;
    const readsBefore = readPaceStats.reads;
    const started = performance.now();
    const chatting = assertStillChatting(users, "while a peer trickles");
    await tricklePings(peer, pings);
    await chatting;
    const seconds = (performance.now() - started) / 1000;
    const reads = readPaceStats.reads - readsBefore;
    const { smallReadsPerSecond, smallReadBurst } = DEFAULT_CONNECTION_LIMITS;
    // The burst, the rate, one read after each pause, and a few for
    // alice and bob's messages (a handful each).
    const bound = smallReadBurst +
      (smallReadsPerSecond + 1000 / READ_PAUSE_MS) * seconds + 20;
    assert.ok(
      reads <= bound,
      `${reads} reads of ${writes} one-byte writes in ${
        seconds.toFixed(1)
      } s, over ${Math.floor(bound)}`,
    );
  } finally {
    peer.tcp.close();
  }
});

Deno.test("startServer never pauses the reads of honest users sending a burst of messages", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const pausesBefore = readPaceStats.pauses;
  // A connection's whole message burst (40), less the check's own line.
  const burst = DEFAULT_CONNECTION_LIMITS.messageBurst - 1;
  const said = [];
  for (let i = 0; i < burst; i++) said.push(users.alice.client.say(`l${i}`));
  for (const reply of await Promise.all(said)) assert.equal(reply.t, "ok");
  await users.bob.waitFor((m) =>
    m.message.t === "public" && m.text === `l${burst - 1}`
  );
  await assertStillChatting(users, "after a burst");
  assert.equal(readPaceStats.pauses, pausesBefore);
});

Deno.test("readPaceFor keeps the defaults at the default message rate, grows them with a raised one, and turns pacing off with no message limit", () => {
  const defaults = {
    smallReadsPerSecond: DEFAULT_CONNECTION_LIMITS.smallReadsPerSecond,
    smallReadBurst: DEFAULT_CONNECTION_LIMITS.smallReadBurst,
  };
  assert.deepEqual(readPaceFor(20, defaults), defaults);
  assert.deepEqual(readPaceFor(5, defaults), defaults);
  assert.deepEqual(readPaceFor(200, defaults), {
    smallReadsPerSecond: defaults.smallReadsPerSecond * 10,
    smallReadBurst: defaults.smallReadBurst * 10,
  });
  assert.equal(readPaceFor(0, defaults).smallReadsPerSecond, 0);
});

Deno.test("startServer with no message limit (--rate 0) never pauses a sender keeping a few messages unanswered, each its own small read", async () => {
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  await using users = await bystanders(server);
  const pausesBefore = readPaceStats.pauses;
  // Far past the default burst of small reads: 4 unanswered at a time, as
  // the bench's senders and a script with the rate lifted send.
  const lines = 16 * DEFAULT_CONNECTION_LIMITS.smallReadBurst;
  let next = 0;
  const sender = async () => {
    while (next < lines) {
      const reply = await users.alice.client.say(`q${next++}`);
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    }
  };
  await Promise.all([sender(), sender(), sender(), sender()]);
  await users.bob.waitFor((m) =>
    m.message.t === "public" && m.text === `q${lines - 1}`
  );
  assert.equal(readPaceStats.pauses, pausesBefore);
});

/**
 * A socket accepted by a node:net server, its reads paced at one small read
 * and no burst, and a Deno TCP connection writing to it.
 */
async function pacedPair(): Promise<{
  socket: Socket;
  peer: Deno.TcpConn;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const server: Server = createServer();
  const accepted = new Promise<Socket>((resolve) =>
    server.once("connection", resolve)
  );
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  const { port } = server.address() as AddressInfo;
  const peer = await Deno.connect({ hostname: "127.0.0.1", port });
  peer.setNoDelay(true);
  const socket = await accepted;
  socket.on("error", () => {});
  paceReads(socket, { smallReadsPerSecond: 1, smallReadBurst: 1 });
  return {
    socket,
    peer,
    async [Symbol.asyncDispose]() {
      socket.destroy();
      try {
        peer.close();
      } catch { /* closed already */ }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Writes a byte at a time, each once read, until `socket` is paced; its
 * stream is paused right after the read that was, well within the pause
 * (in the same turn of the event loop: before any timer).
 */
async function untilPausedWhilePaced(pair: {
  socket: Socket;
  peer: Deno.TcpConn;
}): Promise<void> {
  const pausesBefore = readPaceStats.pauses;
  const { promise: held, resolve } = Promise.withResolvers<void>();
  const hold = () => {
    if (readPaceStats.pauses === pausesBefore) return;
    pair.socket.off("data", hold);
    // Not in the "data" event itself: a stream paused there reads on up to
    // its high-water mark (Readable's maybeReadMore), paced or not.
    setImmediate(() => {
      pair.socket.pause();
      resolve();
    });
  };
  pair.socket.on("data", hold);
  for (let i = 0; readPaceStats.pauses === pausesBefore; i++) {
    assert.ok(i < 8, "no read pause after 8 small reads past a burst of 1");
    const read = pair.socket.bytesRead;
    await pair.peer.write(new Uint8Array([i]));
    await until(
      () => pair.socket.bytesRead > read,
      "the server to read a byte",
    );
  }
  await held;
}

Deno.test("paceReads finds the handle's readStop, readStart and reading flag in this runtime, and Socket.pause clears the flag", async () => {
  // If this fails, Deno changed its net.Socket's handle: reads are not
  // paced (correct, and a trickle costs what it did), or a read pause's end
  // may start a socket held by the stream. Update src/server/paced_reads.ts.
  await using pair = await pacedPair();
  pair.socket.on("data", () => {});
  const handle =
    (pair.socket as unknown as { _handle: Record<string, unknown> })
      ._handle;
  assert.equal(typeof handle.readStop, "function");
  assert.equal(typeof handle.readStart, "function");
  assert.equal(handle.reading, true);
  await untilPausedWhilePaced(pair);
  assert.equal(handle.reading, false);
});

Deno.test("paceReads leaves a socket whose stream was paused during a read pause unread when the pause ends, and it is read again once resumed", async () => {
  await using pair = await pacedPair();
  pair.socket.on("data", () => {});
  // Held during the read pause, as the send-queue and unread gauges (and
  // the handshake's check, and a TLS bridge's pipe) hold a socket: the
  // server's memory bounds count on a held socket not being read.
  await untilPausedWhilePaced(pair);
  const held = pair.socket.bytesRead;
  const bytes = 256 * 1024;
  const writing = (async () => {
    const chunk = new Uint8Array(bytes);
    for (let at = 0; at < bytes;) {
      at += await pair.peer.write(chunk.subarray(at));
    }
  })();
  // The window of the claim: well past the read pause's end.
  await new Promise((resolve) => setTimeout(resolve, 5 * READ_PAUSE_MS));
  assert.equal(
    pair.socket.bytesRead - held,
    0,
    "bytes read while the stream was paused",
  );
  pair.socket.resume();
  await until(
    () => pair.socket.bytesRead - held === bytes,
    "every byte read once resumed",
  );
  await writing;
});

Deno.test("startServer does not pause a file's recipient acknowledging each MiB, nor its sender, however fast the file comes", async () => {
  // Few small reads a second, as the defaults are against a file at 200
  // MiB/s (what two `chat connect` reach on a quiet machine): its
  // recipient's ack each MiB, and the last read of some of its sender's
  // frames (1 in 10 here), are each a small read. Paced, each waited 100
  // ms, and the transfer with it: 61-79 MiB/s against 73-125 unpaced, a
  // 512 MiB file here at the defaults. The burst covers a sign-in's reads.
  await using server = await startTestServer({
    connectionLimits: { smallReadsPerSecond: 2, smallReadBurst: 16 },
  });
  const sender = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const recipient = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    assert.equal((await sender.register("sophia")).t, "welcome");
    assert.equal((await recipient.register("jojo")).t, "welcome");
    const size = 64 * FILE_ACK_BYTES;
    const offer = sender.nextId();
    await sender.sendMessage({
      t: "file_offer",
      id: offer,
      to: "jojo",
      name: "big.bin",
      size,
    });
    let xfer: number | undefined;
    while (xfer === undefined) {
      for (const { message } of await recipient.receiveMessages(WAIT_MS)) {
        if (message.t === "file_offer") xfer = message.xfer;
      }
    }
    await recipient.sendMessage({ t: "file_accept", xfer });
    assert.equal((await sender.replyTo(offer)).t, "file_ready");
    const pausesBefore = readPaceStats.pauses;
    let acked = 0;
    const receiving = (async () => {
      let received = 0;
      let ackedHere = 0;
      while (received < size) {
        for (const m of await recipient.receiveMessages(WAIT_MS)) {
          if (m.message.t !== "file_chunk") continue;
          received += m.body!.byteLength - FILE_CHUNK_TAG_BYTES;
          // As file_receiver.ts does: an ack each MiB on disk.
          if (received - ackedHere < FILE_ACK_BYTES && received < size) {
            continue;
          }
          ackedHere = received;
          await recipient.sendMessage({ t: "file_ack", xfer, received });
        }
        recipient.messages.length = 0;
      }
    })();
    const progress = (async () => {
      while (acked < size) {
        for (const { message } of await sender.receiveMessages(WAIT_MS)) {
          if (message.t === "file_progress") acked = message.acked;
        }
        sender.messages.length = 0;
      }
    })();
    const data = MAX_FILE_CHUNK_BYTES - FILE_CHUNK_TAG_BYTES;
    const chunk = new Uint8Array(MAX_FILE_CHUNK_BYTES);
    for (let sent = 0; sent < size;) {
      await until(
        () => sent - acked < FILE_WINDOW_BYTES,
        "the window to open",
      );
      const bytes = Math.min(data, size - sent);
      await sender.sendMessage(
        { t: "file_chunk", xfer, offset: sent },
        chunk.subarray(0, bytes + FILE_CHUNK_TAG_BYTES),
      );
      sent += bytes;
    }
    await Promise.all([receiving, progress]);
    assert.equal(
      readPaceStats.pauses - pausesBefore,
      0,
      `read pauses for ${size / FILE_ACK_BYTES} acks`,
    );
  } finally {
    await sender.close();
    await recipient.close();
  }
});
