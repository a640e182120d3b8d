/**
 * A frame whose bytes come one TCP segment at a time, against a real server
 * on an ephemeral port: `ws` kept every read until the frame was whole (up
 * to 262,144 of them), and the server looked over all it kept at each read.
 */

import assert from "node:assert/strict";
import { CloseCode } from "../../src/transport/connection.ts";
import { assertStillChatting, bystanders } from "../_helpers/bystanders.ts";
import { startTestServer } from "../_helpers/chat.ts";
import {
  clientFrame,
  Opcode,
  RawTcp,
  TcpChatPeer,
} from "../_helpers/raw_tcp.ts";
import { ClientHandshake } from "../../src/crypto/handshake.ts";
import { WAIT_MS } from "../_helpers/patience.ts";
import { MAX_FRAME_BYTES } from "../../src/protocol/limits.ts";
import { DEFAULT_CONNECTION_LIMITS } from "../../src/server/config.ts";

/** A masked binary frame's header announcing `length` bytes (64-bit form). */
function frameHeader(length: number): Uint8Array {
  const header = new Uint8Array(14);
  header[0] = 0x82;
  header[1] = 0x80 | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  header.set([1, 2, 3, 4], 10);
  return header;
}

/**
 * Sends `frameHeader(length)`, then the payload one byte per write, each
 * after the server had a turn to read the last, until the server closes or
 * `most` bytes went. Resolves with the close code and the bytes sent.
 */
async function trickle(
  tcp: RawTcp,
  length: number,
  most: number,
): Promise<{ code: number | null; sent: number }> {
  let closed: number | null | undefined;
  // A write every few ms: thousands of them take longer than one wait.
  const reading = tcp.readUntilClosed(4 * WAIT_MS).then(
    ({ code }) => closed = code,
    () => closed = null,
  );
  await tcp.write(frameHeader(length));
  const byte = new Uint8Array(1);
  let sent = 0;
  while (closed === undefined && sent < most) {
    if (!await tcp.write(byte)) break;
    sent++;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  if (closed === undefined) tcp.close();
  await reading;
  return { code: closed ?? null, sent };
}

Deno.test("startServer closes with 1008 a handshake message whose frame comes in more than 64 reads, before it is whole", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const { tcp, head } = await RawTcp.upgrade(server.port);
  assert.match(head, /^HTTP\/1\.1 101/);
  // 8000 bytes: under the handshake's 8 KiB, so only the reads count.
  const { code, sent } = await trickle(tcp, 8000, 7999);
  assert.equal(code, CloseCode.policyViolation, `after ${sent} bytes`);
  assert.ok(sent < 1000, `cut off after ${sent} one-byte writes`);
  await assertStillChatting(users, "after a handshake in one-byte reads");
});

/**
 * `peer` once the server is past its handshake: it answers a sealed request
 * (an error, unregistered). The frame limits no longer wait for that (see
 * the test of a frame sent with client_finished), but the tests below count
 * the server's reads from a known point: the handshake done.
 */
async function pastHandshake(peer: TcpChatPeer): Promise<TcpChatPeer> {
  const reply = await peer.request({ t: "list" });
  assert.equal(reply.t, "error", JSON.stringify(reply));
  return peer;
}

// Each read costs a write and a pause for the server to take it (3 ms at
// load 16, 10 ms on a loaded CI: 4096 of them took 41 s), and the limit works
// the same whatever its number: so it is lowered here to 512; the
// default of 4096 is checked on the receiver itself (ws_receiver_limits_test.ts)
// and where the largest frame is taken in 2098 reads.
const FEWER_FRAME_READS = 512;

Deno.test("startServer closes with 1008 a frame that comes in more reads than maxFrameReads after the handshake, before it is whole, and not before that many", async () => {
  await using server = await startTestServer({
    // Unpaced (paced_reads.ts): paced, the one-byte writes are gathered into
    // fewer reads, and this checks the limit on reads, not the pacing.
    connectionLimits: {
      maxFrameReads: FEWER_FRAME_READS,
      smallReadsPerSecond: 0,
    },
  });
  await using users = await bystanders(server);
  const peer = await pastHandshake(
    await TcpChatPeer.connect(server.port, server.spki),
  );
  // A 1 MiB frame; the writes that the server read together count once.
  const { code, sent } = await trickle(
    peer.tcp,
    1024 * 1024,
    3 * FEWER_FRAME_READS,
  );
  assert.equal(code, CloseCode.policyViolation, `after ${sent} bytes`);
  assert.ok(
    sent >= FEWER_FRAME_READS,
    `cut off after only ${sent} one-byte writes`,
  );
  await assertStillChatting(users, "after a frame in one-byte reads");
});

/**
 * Sends a `length`-byte frame in writes of `segment` bytes, each after the
 * server had a turn to read the last (a slow link delivering one small TCP
 * segment per read). Resolves with the close code (null: still open once
 * all went and the wait ended) and the bytes of payload sent.
 */
async function inSegments(
  tcp: RawTcp,
  length: number,
  segment: number,
): Promise<{ code: number | null; sent: number }> {
  let closed: number | null | undefined;
  const reading = tcp.readUntilClosed(6 * WAIT_MS).then(
    ({ code }) => closed = code,
    () => closed = null,
  );
  await tcp.write(frameHeader(length));
  const payload = new Uint8Array(segment);
  let sent = 0;
  while (closed === undefined && sent < length) {
    const bytes = Math.min(segment, length - sent);
    if (!await tcp.write(payload.subarray(0, bytes))) break;
    sent += bytes;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await reading;
  return { code: closed ?? null, sent };
}

// The largest frame a peer may send (MAX_FRAME_BYTES), over the worst link
// an honest peer's TCP uses: Linux lowers a path's MTU no further than 552
// bytes (min_pmtu), which less 40 bytes of IP and TCP headers and 12 of
// timestamps carries 500 bytes a segment: 2098 reads, under 4096.
Deno.test("startServer takes the largest frame whole when it comes 500 bytes a read, as over the smallest path MTU (2098 reads)", async () => {
  await using server = await startTestServer();
  // Under the default limit, which the server runs with here.
  assert.equal(DEFAULT_CONNECTION_LIMITS.maxFrameReads, 4096);
  const peer = await pastHandshake(
    await TcpChatPeer.connect(server.port, server.spki),
  );
  const { code, sent } = await inSegments(peer.tcp, MAX_FRAME_BYTES, 500);
  assert.equal(sent, MAX_FRAME_BYTES, `cut off after ${sent} bytes`);
  // Its bytes are no sealed frame: opening it fails, after it was whole.
  assert.notEqual(code, CloseCode.policyViolation, `after ${sent} bytes`);
});

// A client may send sealed frames right after `client_finished` (PROTOCOL
// 2.6), and one that does not wait may send both in one write: the server
// must read that frame under the session's limit, not the handshake's 8 KiB
// (it checked `client_finished` first, and ws had read on meanwhile).
Deno.test("startServer takes a frame over 8 KiB sent in the same write as client_finished", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  let id = 0;
  const peer = await TcpChatPeer.connect(
    server.port,
    server.spki,
    undefined,
    (peer) => {
      id = peer.nextId();
      // 20,000 bytes of body: past 8192, far under the session's limit.
      return peer.seal({ t: "list", id }, new Uint8Array(20_000));
    },
  );
  try {
    const reply = await peer.readReply(id, WAIT_MS);
    assert.equal(reply.t, "error", JSON.stringify(reply));
  } finally {
    peer.tcp.close();
  }
  await assertStillChatting(
    users,
    "after a frame pipelined with the handshake",
  );
});

// The session's limits come with client_finished, before it is checked; a
// peer whose client_finished fails gets no frame past 8 KiB taken for that.
Deno.test("startServer closes with 1008 (handshake failed) a bad client_finished sent with a frame over 8 KiB", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const { tcp, head } = await RawTcp.upgrade(server.port);
  assert.match(head, /^HTTP\/1\.1 101/);
  const handshake = new ClientHandshake({ pinnedSpki: server.spki });
  const hello = await handshake.receiveServerHello(await tcp.readText());
  await tcp.write(
    clientFrame(Opcode.text, new TextEncoder().encode(hello.reply)),
  );
  const finished = await handshake.receiveServerFinished(await tcp.readText());
  const wrongMac = { ...JSON.parse(finished.reply), mac: btoa("x".repeat(32)) };
  const last = clientFrame(
    Opcode.text,
    new TextEncoder().encode(JSON.stringify(wrongMac)),
  );
  // A 1 MiB frame begun in the same write, then more of it.
  const frame = clientFrame(Opcode.binary, new Uint8Array(1024 * 1024));
  const closing = tcp.readUntilClosed(WAIT_MS);
  await tcp.write(new Uint8Array([...last, ...frame.subarray(0, 20_000)]));
  await tcp.write(frame.subarray(20_000, 200_000));
  const { code } = await closing;
  tcp.close();
  assert.equal(code, CloseCode.policyViolation);
  await assertStillChatting(users, "after a bad client_finished with a frame");
});
