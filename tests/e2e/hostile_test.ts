/**
 * The hostile-input suite, beyond wire_attacks_test.ts (tampered, replayed,
 * reordered, reflected, truncated frames; garbage before the handshake),
 * limits_test.ts (per-address limit, flood, a client that never reads) and
 * file_transfer_test.ts (a sender that drops mid-transfer).
 *
 * Each case runs against a real server over raw WebSockets or raw TCP, checks
 * that the server answers with the documented error or closes that connection
 * only, with a reason in its log, and that two well-behaved users connected
 * alongside still exchange messages afterwards. Two cases about the frame
 * counter's limit drive a SecureChannel over an in-memory connection instead,
 * since no real session gets near 2^40 frames; tests/crypto covers the cipher.
 */

import assert from "node:assert/strict";
import { toBase64 } from "../../src/crypto/bytes.ts";
import { ClientHandshake } from "../../src/crypto/handshake.ts";
import {
  FrameOpener,
  FrameSealer,
  MIN_FRAME_BYTES,
} from "../../src/crypto/session_cipher.ts";
import { decodeBatch } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { parseServerMessage } from "../../src/protocol/parse_server_message.ts";
import {
  FILE_CHUNK_TAG_BYTES,
  MAX_HANDSHAKE_BYTES,
} from "../../src/protocol/limits.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { CloseCode, type Connection } from "../../src/transport/connection.ts";
import { SecureChannel } from "../../src/transport/secure_channel.ts";
import { RecordingConnection } from "../_helpers/recording_connection.ts";
import {
  assertStillChatting,
  bystanders,
  until,
  waitForLog,
} from "../_helpers/bystanders.ts";
import {
  settle,
  startTestServer,
  TestClient,
  type TestServer,
} from "../_helpers/chat.ts";
import { frameSeq, RawClient } from "../_helpers/raw_client.ts";
import {
  clientFrame,
  fragmented,
  Opcode,
  RawTcp,
  TcpChatPeer,
  upgradeRequest,
} from "../_helpers/raw_tcp.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const encoder = new TextEncoder();
const MIB = 1024 * 1024;

/** A raw client that completed the handshake and registered `name`. */
async function registeredRaw(
  server: TestServer,
  name: string,
): Promise<RawClient> {
  const raw = await RawClient.connect(server.url, { pinnedSpki: server.spki });
  const reply = await raw.register(name);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return raw;
}

/** The server closed `raw` with `code` and logged a line matching `reason`. */
async function assertClosedByServer(
  server: TestServer,
  raw: RawClient,
  code: number,
  reason: RegExp,
): Promise<string> {
  const close = await raw.waitClosed();
  assert.equal(close.code, code, `closed with ${JSON.stringify(close)}`);
  return await waitForLog(server, reason);
}

/** Reads server messages until one that is not presence or membership news. */
async function nextReply(raw: RawClient): Promise<ServerMessage> {
  for (let frames = 0; frames < 50; frames++) {
    for (const { message } of await raw.receiveMessages()) {
      if (message.t !== "presence" && message.t !== "membership") {
        return message;
      }
    }
  }
  assert.fail("no reply within 50 frames");
}

/** A batch holding one message whose header is `json` exactly as given. */
function batchOf(json: string, body = new Uint8Array(0)): Uint8Array {
  const header = encoder.encode(json);
  const batch = new Uint8Array(8 + header.byteLength + body.byteLength);
  const view = new DataView(batch.buffer);
  view.setUint32(0, header.byteLength);
  view.setUint32(4, body.byteLength);
  batch.set(header, 8);
  batch.set(body, 8 + header.byteLength);
  return batch;
}

/** Printable ASCII only: nothing a terminal would act on, nothing look-alike. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function rssBytes(): number {
  return Deno.memoryUsage().rss;
}

// --- 1. A thousand connections dropped abruptly --------------------------------

/** Ways to leave the server mid-way, each without a close frame. */
async function dropAbruptly(
  server: TestServer,
  index: number,
  ghosts: string[],
): Promise<void> {
  const request = encoder.encode(upgradeRequest());
  if (index % 5 === 4) {
    // A whole handshake, and one in fifty also registers, then gone.
    const peer = await TcpChatPeer.connect(server.port, server.spki);
    try {
      if (index % 50 === 4) {
        const name = `ghost${index}`;
        const reply = await peer.register(name);
        assert.equal(reply.t, "welcome", JSON.stringify(reply));
        ghosts.push(name);
      }
    } finally {
      peer.drop();
    }
    return;
  }
  const tcp = await RawTcp.connect(server.port);
  try {
    switch (index % 5) {
      case 0: // Half an HTTP request.
        await tcp.write(request.subarray(0, 30));
        break;
      case 1: // A whole upgrade request, not waiting for the answer.
        await tcp.write(request);
        break;
      case 2: // Upgraded; gone after the server_hello.
        await tcp.write(request);
        assert.match(await tcp.readHead(), /^HTTP\/1\.1 101 /);
        assert.equal((await tcp.readFrame())?.opcode, Opcode.text);
        break;
      case 3: // Half a WebSocket frame.
        await tcp.write(request);
        await tcp.readHead();
        await tcp.readFrame();
        await tcp.write(
          clientFrame(Opcode.text, encoder.encode("x".repeat(100))).subarray(
            0,
            20,
          ),
        );
        break;
    }
  } finally {
    tcp.close();
  }
}

Deno.test("startServer survives 1,000 connections dropped abruptly: the count returns to its baseline, memory stays sane, the log is not flooded", async () => {
  await using server = await startTestServer({
    // All from one address, faster than its handshake rate allows, and more
    // at once than its cap of unfinished handshakes.
    connectionLimits: {
      maxConnectionsPerAddress: 200,
      handshakesPerSecond: 0,
      maxUnfinishedPerAddress: 0,
    },
  });
  await using users = await bystanders(server);
  const baseline = server.connectionCount;
  assert.equal(baseline, 2);
  const rssBefore = rssBytes();
  const ghosts: string[] = [];

  for (let batch = 0; batch < 20; batch++) {
    await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => dropAbruptly(server, batch * 50 + i, ghosts),
      ),
    );
  }

  await until(
    () => server.connectionCount === baseline,
    `the connection count to return to ${baseline} (now ${server.connectionCount})`,
    5000,
  );
  const grown = rssBytes() - rssBefore;
  assert.ok(grown < 150 * MIB, `RSS grew by ${(grown / MIB).toFixed(0)} MiB`);
  assert.equal(ghosts.length, 20);
  for (const ghost of ghosts) {
    await users.alice.waitFor((m) =>
      m.message.t === "presence" && m.message.name === ghost &&
      !m.message.online
    );
    await waitForLog(server, new RegExp(`^${ghost} left$`));
  }
  // A reason is logged, but once per address and minute, not per connection.
  const handshakeLines = server.logs.filter((l) =>
    /^handshake with 127\.0\.0\.1:\d+ failed: /.test(l)
  );
  assert.ok(handshakeLines.length >= 1, JSON.stringify(server.logs));
  assert.ok(handshakeLines.length <= 3, JSON.stringify(handshakeLines));
  assert.ok(server.logs.length < 100, `${server.logs.length} log lines`);
  await assertStillChatting(users, "after 1,000 dropped connections");
});

// --- 2. Tiny WebSocket fragments ------------------------------------------------

Deno.test("startServer closes with 1008 a handshake text sent as 10,000 one-byte fragments, at the fragment limit; memory stays bounded", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const rssBefore = rssBytes();
  const { tcp, head } = await RawTcp.upgrade(server.port);
  using _tcp = tcp;
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.equal((await tcp.readFrame())?.opcode, Opcode.text);

  const text = encoder.encode("{".repeat(10_000));
  assert.ok(text.byteLength > MAX_HANDSHAKE_BYTES);
  assert.ok(await tcp.write(fragmented(Opcode.text, text, 1)));

  const { code } = await tcp.readUntilClosed();
  assert.equal(code, CloseCode.policyViolation);
  tcp.close();
  // The edge ends it after maxMessageFragments (64), before the handshake
  // code sees a message.
  await waitForLog(
    server,
    /^handshake with 127\.0\.0\.1:\d+ failed: the connection closed during the handshake$/,
  );
  const grown = rssBytes() - rssBefore;
  assert.ok(grown < 200 * MIB, `RSS grew by ${(grown / MIB).toFixed(0)} MiB`);
  await until(() => server.connectionCount === 2, "the socket to go");
  await assertStillChatting(users, "after 10,000 fragments");
});

Deno.test("startServer closes with 1008 a message sent in more fragments than maxMessageFragments, before it ends", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const rssBefore = rssBytes();
  const { tcp } = await RawTcp.upgrade(server.port);
  using _tcp = tcp;
  assert.equal((await tcp.readFrame())?.opcode, Opcode.text);
  // 100,000 one-byte fragments: each would cost the server an object.
  assert.ok(
    await tcp.write(fragmented(Opcode.text, new Uint8Array(100_000), 1, false)),
  );
  const { code } = await tcp.readUntilClosed();
  assert.equal(code, CloseCode.policyViolation);
  tcp.close();
  const grown = rssBytes() - rssBefore;
  assert.ok(grown < 100 * MIB, `RSS grew by ${(grown / MIB).toFixed(0)} MiB`);
  await until(() => server.connectionCount === 2, "the socket to go");
  await assertStillChatting(users, "after 100,000 fragments");
});

Deno.test("acceptChannel ends a fragmented message that never finishes at the handshake timeout", async () => {
  await using server = await startTestServer({
    connectionLimits: { handshakeTimeoutMs: 500 },
  });
  await using users = await bystanders(server);
  const { tcp } = await RawTcp.upgrade(server.port);
  using _tcp = tcp;
  await tcp.readFrame();
  // 50 fragments (under the limit of 64) and no final one: the message
  // never completes.
  assert.ok(
    await tcp.write(fragmented(Opcode.text, new Uint8Array(50), 1, false)),
  );
  const { code } = await tcp.readUntilClosed(WAIT_MS);
  assert.equal(code, CloseCode.policyViolation);
  await waitForLog(
    server,
    /^handshake with 127\.0\.0\.1:\d+ failed: the handshake did not finish within 0\.5 s$/,
  );
  await assertStillChatting(users, "after an endless fragmented message");
});

Deno.test("SecureChannel reassembles a sealed frame sent as 50 fragments and refuses its text by size, keeping the connection", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const peer = await TcpChatPeer.connect(server.port, server.spki);
  try {
    assert.equal((await peer.register("mallory")).t, "welcome");
    const rssBefore = rssBytes();

    const huge = await peer.request(
      { t: "say" },
      encoder.encode("x".repeat(100_000)),
      { fragmentBytes: 2048 },
    );
    assert.equal(huge.t, "error", JSON.stringify(huge));
    assert.equal(huge.t === "error" && huge.code, "too_long");

    // The same path with a message of legal size: reassembled and delivered.
    const small = await peer.request(
      { t: "say" },
      encoder.encode("sent in pieces"),
      { fragmentBytes: 2 },
    );
    assert.equal(small.t, "ok", JSON.stringify(small));
    await users.bob.waitFor((m) =>
      m.message.t === "public" && m.message.from === "mallory" &&
      m.text === "sent in pieces"
    );
    const grown = rssBytes() - rssBefore;
    assert.ok(grown < 200 * MIB, `RSS grew by ${(grown / MIB).toFixed(0)} MiB`);
    assert.deepEqual(
      server.logs.filter((l) => l.startsWith("closing")),
      [],
      "the connection was not closed",
    );
  } finally {
    peer.drop();
  }
  await waitForLog(server, /^mallory left$/);
  await assertStillChatting(users, "after a fragmented frame");
});

Deno.test("startServer cuts off a registered peer whose fragmented message never ends: 1009 at the frame limit, its slot freed", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const rssBefore = rssBytes();
  const peer = await TcpChatPeer.connect(server.port, server.spki);
  try {
    assert.equal((await peer.register("mallory")).t, "welcome");
    const fragment = fragmented(
      Opcode.binary,
      new Uint8Array(64 * 1024),
      64 * 1024,
      false,
    );
    const continuation = fragment.slice();
    continuation[0] = Opcode.continuation;
    let closed = false;
    const closing = peer.tcp.readUntilClosed(WAIT_MS).finally(() =>
      closed = true
    );
    let sent = 0;
    // Until the server's Close arrives: no sleep, the write is the pace.
    while (!closed && sent < 256 * MIB) {
      if (!await peer.tcp.write(sent === 0 ? fragment : continuation)) break;
      sent += 64 * 1024;
    }
    const { code } = await closing;
    assert.equal(code, CloseCode.tooBig);
    assert.ok(sent < 256 * MIB, `the server took ${sent / MIB} MiB`);
    await waitForLog(
      server,
      /^closed mallory \(127\.0\.0\.1:\d+\): its message was larger than the limit$/,
    );
    await users.alice.waitFor((m) =>
      m.message.t === "presence" && m.message.name === "mallory" &&
      !m.message.online
    );
    // Still writing into the void: the socket is destroyed at the deadline.
    await until(
      () => server.connectionCount === 2,
      "the socket to go",
      WAIT_MS,
    );
  } finally {
    peer.drop();
  }
  const grown = rssBytes() - rssBefore;
  assert.ok(grown < 64 * MIB, `RSS grew by ${(grown / MIB).toFixed(0)} MiB`);
  await assertStillChatting(users, "after an endless fragmented message");
});

// --- 3. Invalid UTF-8 in text frames --------------------------------------------

const invalidUtf8: { what: string; bytes: number[] }[] = [
  { what: "a stray continuation byte", bytes: [0x7b, 0x80, 0x7d] },
  { what: "bytes 0xFF 0xFE", bytes: [0xff, 0xfe] },
  { what: "an overlong encoding of '/'", bytes: [0xc0, 0xaf] },
  { what: "an encoded surrogate", bytes: [0xed, 0xa0, 0x80] },
  { what: "a truncated sequence", bytes: [0x7b, 0xe2, 0x82] },
];

Deno.test("startServer drops a connection that sends invalid UTF-8 in a text frame during the handshake", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  for (const { what, bytes } of invalidUtf8) {
    const { tcp } = await RawTcp.upgrade(server.port);
    using _tcp = tcp;
    assert.equal((await tcp.readFrame())?.opcode, Opcode.text);
    await tcp.write(clientFrame(Opcode.text, new Uint8Array(bytes)));
    // The server's WebSocket drops the TCP connection (no close frame) or sends 1007.
    const { code } = await tcp.readUntilClosed();
    assert.ok(code === null || code === 1007, `${what}: closed with ${code}`);
    assert.ok(tcp.eof || code === 1007, what);
  }
  await waitForLog(
    server,
    /^handshake with 127\.0\.0\.1:\d+ failed: the connection closed during the handshake$/,
  );
  await until(() => server.connectionCount === 2, "the sockets to go");
  await assertStillChatting(users, "after invalid UTF-8");
});

Deno.test("startServer drops a registered user who sends invalid UTF-8 in a text frame and tells the others", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const peer = await TcpChatPeer.connect(server.port, server.spki);
  using _tcp = peer.tcp;
  assert.equal((await peer.register("mallory")).t, "welcome");
  await peer.tcp.write(clientFrame(Opcode.text, new Uint8Array([0xff, 0xfe])));
  const { code } = await peer.tcp.readUntilClosed();
  assert.ok(code === null || code === 1007, `closed with ${code}`);
  await users.alice.waitFor((m) =>
    m.message.t === "presence" && m.message.name === "mallory" &&
    !m.message.online
  );
  await waitForLog(server, /^mallory left$/);
  await assertStillChatting(users, "after invalid UTF-8 in a session");
});

// --- 4. An upgrade request with thousands of headers ----------------------------

Deno.test("startServer refuses an upgrade request with thousands of headers, or one huge header, and the server keeps serving", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const requests = [
    Array.from({ length: 5000 }, (_, i) => `X-Pad-${i}: ${"v".repeat(16)}`),
    [`X-Huge: ${"v".repeat(200_000)}`],
  ];
  for (const headers of requests) {
    const { tcp, head } = await RawTcp.upgrade(server.port, headers);
    using _tcp = tcp;
    // The HTTP layer answers before the handler runs (so the server cannot
    // log it): a 4xx, or at least a closed socket.
    if (head !== "") assert.match(head, /^HTTP\/1\.1 4\d\d /);
    const { code } = await tcp.readUntilClosed();
    assert.equal(code, null, "no WebSocket was opened");
  }
  assert.equal(server.connectionCount, 2);
  const carol = await TestClient.connect(server, "carol");
  assert.equal((await carol.client.say("hello after the headers")).t, "ok");
  await users.alice.waitFor((m) => m.text === "hello after the headers");
  await carol.quit();
  await assertStillChatting(users, "after thousands of headers");
});

// --- 5. The handshake, attacked during its course --------------------------------

Deno.test("acceptChannel answers a wrong RSA ciphertext like any other, then closes with 1008 at the finished MAC", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await RawClient.open(server.url);
  const handshake = new ClientHandshake({ pinnedSpki: server.spki });
  const hello = await handshake.receiveServerHello(await raw.nextText());
  const fields = JSON.parse(hello.reply);
  const secret = Uint8Array.from(atob(fields.secret), (c) => c.charCodeAt(0));
  secret[10] = secret[10]! ^ 0xff;
  raw.send(JSON.stringify({ ...fields, secret: toBase64(secret) }));

  // No padding oracle: the server carries on as if decryption had worked.
  const finished = JSON.parse(await raw.nextText());
  assert.equal(finished.type, "server_finished");
  await assert.rejects(
    handshake.receiveServerFinished(JSON.stringify(finished)),
    /could not prove it holds the private key/,
  );
  raw.send(
    JSON.stringify({
      type: "client_finished",
      mac: toBase64(new Uint8Array(32)),
    }),
  );
  await assertClosedByServer(
    server,
    raw,
    CloseCode.policyViolation,
    /^handshake with 127\.0\.0\.1:\d+ failed: Handshake failed: the client's finished MAC did not verify/,
  );
  await assertStillChatting(users, "after a wrong RSA ciphertext");
});

const duringHandshake: {
  what: string;
  data: (clientHello: string) => string | Uint8Array;
  log: RegExp;
}[] = [
  {
    what: "binary data",
    data: () => new Uint8Array([1, 2, 3]),
    log: /failed: expected a handshake message, got binary data$/,
  },
  {
    what: "non-JSON text",
    data: () => "}{",
    log: /failed: Malformed client_finished: not valid JSON/,
  },
  {
    what: "the client_hello again",
    data: (clientHello) => clientHello,
    log:
      /failed: Unexpected handshake message: expected 'client_finished', got 'client_hello'/,
  },
  {
    what: "a MAC of the wrong length",
    data: () =>
      JSON.stringify({
        type: "client_finished",
        mac: toBase64(new Uint8Array(5)),
      }),
    log: /failed: Malformed client_finished/,
  },
];

for (const { what, data, log } of duringHandshake) {
  Deno.test(`acceptChannel closes with 1008 on ${what} instead of client_finished`, async () => {
    await using server = await startTestServer();
    await using users = await bystanders(server);
    await using raw = await RawClient.open(server.url);
    const handshake = new ClientHandshake({ pinnedSpki: server.spki });
    const hello = await handshake.receiveServerHello(await raw.nextText());
    raw.send(hello.reply);
    assert.equal(JSON.parse(await raw.nextText()).type, "server_finished");
    raw.send(data(hello.reply));

    const line = await assertClosedByServer(
      server,
      raw,
      CloseCode.policyViolation,
      log,
    );
    assert.match(line, /^handshake with 127\.0\.0\.1:\d+ failed: /);
    assert.equal(raw.received.length, 2, "nothing after server_finished");
    await assertStillChatting(users, `after ${what} during the handshake`);
  });
}

Deno.test("SecureChannel.receive closes with 1002 on a second handshake inside a session", async () => {
  await using server = await startTestServer();
  await using raw = await registeredRaw(server, "mallory");
  await using users = await bystanders(server);

  // The session's own client_hello, then a fresh one: both are text frames.
  raw.send(raw.texts.clientHello);
  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    /^closing mallory \(127\.0\.0\.1:\d+\): Text frame after the handshake$/,
  );
  await users.alice.waitFor((m) =>
    m.message.t === "presence" && m.message.name === "mallory" &&
    !m.message.online
  );

  await using again = await registeredRaw(server, "mallory2");
  const fresh = new ClientHandshake({ pinnedSpki: server.spki });
  const hello = await fresh.receiveServerHello(again.texts.serverHello);
  again.send(hello.reply);
  // Logged once per address and minute: mallory's line stands for both.
  assert.equal((await again.waitClosed()).code, CloseCode.protocolError);
  await assertStillChatting(users, "after a second handshake");
});

// --- 6. Frames at the edges of the cipher ---------------------------------------

Deno.test("SecureChannel.receive closes with 1002 on an authentic frame of exactly header and tag (empty plaintext)", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await registeredRaw(server, "mallory");

  const frame = await raw.sealPlaintext(new Uint8Array(0));
  assert.equal(frame.byteLength, MIN_FRAME_BYTES);
  raw.send(frame);
  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    /^closing mallory .*: Malformed batch: Empty batch$/,
  );
  await assertStillChatting(users, "after an empty plaintext");
});

for (const seq of [2n ** 64n - 1n, 2n ** 53n, 2n ** 40n]) {
  Deno.test(`SecureChannel.receive closes with 1002 on a frame whose counter claims ${seq}`, async () => {
    await using server = await startTestServer();
    await using users = await bystanders(server);
    await using raw = await registeredRaw(server, "mallory");

    const frame = await raw.seal({
      header: { t: "say", id: raw.nextId() },
      body: encoder.encode("from the far future"),
    });
    new DataView(frame.buffer, frame.byteOffset).setBigUint64(1, seq);
    assert.equal(frameSeq(frame), seq);
    raw.send(frame);
    await assertClosedByServer(
      server,
      raw,
      CloseCode.protocolError,
      new RegExp(`Frame out of sequence: expected 2, got ${seq}$`),
    );
    assert.ok(
      !users.alice.inbox.some((m) => m.text === "from the far future"),
    );
    await assertStillChatting(users, `after counter ${seq}`);
  });
}

function channelWithLimit(
  conn: Connection,
  maxFrames: number,
): { channel: SecureChannel; secret: Uint8Array } {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const channel = new SecureChannel(conn, {
    sender: new FrameSealer(secret, { maxFrames, rekeyInterval: 2 }),
    receiver: new FrameOpener(secret),
    transcriptHash: new Uint8Array(32),
  });
  return { channel, secret };
}

Deno.test("SecureChannel ends the session with 1008 when its frame counter reaches the limit, never reusing a sequence number", async () => {
  const conn = new RecordingConnection();
  const { channel, secret } = channelWithLimit(conn, 5);
  const errors: string[] = [];
  const consoleError = console.error;
  console.error = (line: string) => errors.push(line);
  try {
    for (let i = 0; i < 8; i++) {
      channel.send({ t: "pong", re: i });
      await channel.drain();
    }
  } finally {
    console.error = consoleError;
  }
  const frames = conn.sent.filter((d) => d instanceof Uint8Array);
  assert.deepEqual(frames.map(frameSeq), [0n, 1n, 2n, 3n, 4n]);
  assert.deepEqual(conn.closes, [[CloseCode.policyViolation, "session ended"]]);
  assert.match(errors.join("\n"), /Session exhausted/);
  // Every frame sent, across three key epochs, opens in order.
  const opener = new FrameOpener(secret, { rekeyInterval: 2 });
  for (const frame of frames) await opener.open(frame);
  assert.equal(opener.expectedSeq, 5);
});

// A refused seal in a flush of several batches once escaped as an unhandled
// rejection and ended the whole process (fixed in a1fe737).
Deno.test({
  name:
    "SecureChannel ends the session, not the process, when the counter runs out in a flush of several batches",
  fn: async () => {
    const conn = new RecordingConnection();
    const { channel } = channelWithLimit(conn, 1);
    const consoleError = console.error;
    console.error = () => {};
    try {
      // Over 1 MiB queued in one turn: several batches in one flush.
      const body = new Uint8Array(600_000);
      for (let i = 0; i < 4; i++) {
        channel.sendEncoded(encodeMessage({ t: "ok", re: i, text: "" }, body));
      }
      await channel.drain();
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      console.error = consoleError;
    }
    // At most the one frame the counter allows, then the session is over.
    const frames = conn.sent.filter((d) => d instanceof Uint8Array);
    assert.ok(frames.length <= 1, `${frames.length} frames`);
    assert.deepEqual(frames.map(frameSeq), frames.length === 0 ? [] : [0n]);
    assert.deepEqual(conn.closes, [[
      CloseCode.policyViolation,
      "session ended",
    ]]);
  },
});

// --- 7. Sizes that are negative, NaN, 2^53 --------------------------------------

Deno.test("server answers bad_request to negative, NaN, infinite, fractional and 2^53 numbers and keeps the connection", async () => {
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  await using users = await bystanders(server);
  await using raw = await registeredRaw(server, "mallory");

  const bad = [-1, NaN, 2 ** 53, Infinity, 1.5, "10", true, null, [], {}];
  // Requests get a good id, so the reply names it; the rest have none.
  const cases: {
    header: Record<string, unknown>;
    field: string;
    request: boolean;
  }[] = [];
  for (const value of bad) {
    cases.push(
      {
        header: { t: "file_offer", name: "a.txt", size: value, to: "alice" },
        field: "size",
        request: true,
      },
      { header: { t: "history", limit: value }, field: "limit", request: true },
      {
        header: { t: "file_chunk", xfer: 1, offset: value },
        field: "offset",
        request: false,
      },
      {
        header: { t: "file_chunk", xfer: value, offset: 0 },
        field: "xfer",
        request: false,
      },
      {
        header: { t: "file_ack", xfer: 1, received: value },
        field: "received",
        request: false,
      },
      {
        header: { t: "file_done", xfer: value, ok: false, reason: "" },
        field: "xfer",
        request: false,
      },
      { header: { t: "say", id: value }, field: "id", request: false },
    );
  }
  for (const { header, field, request } of cases) {
    const id = raw.nextId();
    const full = request ? { ...header, id } : header;
    await raw.sendMessage(full, encoder.encode("never said"));
    const reply = await nextReply(raw);
    const shown = JSON.stringify(full);
    assert.equal(reply.t, "error", `${shown}: ${JSON.stringify(reply)}`);
    if (reply.t !== "error") continue;
    assert.equal(reply.code, "bad_request", shown);
    assert.equal(reply.re, request ? id : null, shown);
    assert.match(
      reply.text,
      new RegExp(`^ERROR: Bad request: Field '${field}' must be `),
      shown,
    );
  }

  // JSON that JSON.stringify would never write: 1e400 is Infinity, and
  // 2^53 + 1 silently becomes 2^53.
  const handWritten = [
    `{"t":"file_offer","id":77,"name":"a","size":1e400,"to":"alice"}`,
    `{"t":"file_offer","id":78,"name":"a","size":9007199254740993,"to":"alice"}`,
    `{"t":"file_offer","id":79,"name":"a","size":-0.5,"to":"alice"}`,
  ];
  for (const [i, json] of handWritten.entries()) {
    raw.send(await raw.sealPlaintext(batchOf(json)));
    const reply = await nextReply(raw);
    assert.equal(reply.t === "error" && reply.code, "bad_request", json);
    assert.equal(reply.t === "error" && reply.re, 77 + i, json);
  }

  // The largest safe integer is a number, just too large a file.
  const largest = await raw.request({
    t: "file_offer",
    name: "a.txt",
    size: Number.MAX_SAFE_INTEGER,
    to: "alice",
  });
  assert.equal(largest.t === "error" && largest.code, "too_large");
  assert.equal(raw.isClosed, false);
  const said = await raw.request({ t: "say" }, encoder.encode("still in"));
  assert.equal(said.t, "ok");
  await users.alice.waitFor((m) => m.text === "still in");
  assert.ok(!users.alice.inbox.some((m) => m.text === "never said"));
  assert.ok(!users.bob.inbox.some((m) => m.text === "never said"));
  assert.ok(
    !users.alice.inbox.some((m) => m.message.t === "file_offer"),
    "no offer reached alice",
  );

  // A literal NaN is not JSON: the whole frame is rejected, as documented.
  raw.send(await raw.sealPlaintext(batchOf(`{"t":"say","id":NaN}`)));
  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    /^closing mallory .*: Malformed batch: /,
  );
  assert.deepEqual(
    server.logs.filter((l) => /internal error|store failed/.test(l)),
    [],
  );
  await assertStillChatting(users, "after hostile numbers");
});

// --- 8. Hostile names -------------------------------------------------------------

/** Names that must never be accepted, most of them look-alikes of "jojo". */
const hostileNames: { what: string; name: string }[] = [
  { what: "a NUL", name: "jo\u0000jo" },
  { what: "a newline", name: "jojo\n" },
  { what: "a tab", name: "jo\tjo" },
  { what: "DEL", name: "jojo\u007f" },
  { what: "a C1 control", name: "jojo\u009b" },
  { what: "an ANSI colour", name: "\u001b[31mjojo\u001b[0m" },
  { what: "an OSC title escape", name: "\u001b]0;pwned\u0007jojo" },
  { what: "a right-to-left override", name: "\u202eojoj" },
  { what: "a left-to-right isolate", name: "jojo\u2066" },
  { what: "a zero-width space", name: "jo\u200bjo" },
  { what: "a zero-width joiner", name: "\u200djojo" },
  { what: "a byte-order mark", name: "jojo\ufeff" },
  { what: "a soft hyphen", name: "jo\u00adjo" },
  { what: "a combining accent", name: "jojo\u0301" },
  { what: "a Cyrillic o", name: "jojо" },
  { what: "Cyrillic je and o", name: "јојо" },
  { what: "a Greek omicron", name: "jojο" },
  { what: "fullwidth letters", name: "ｊｏｊｏ" },
  { what: "mathematical bold letters", name: "𝐣𝐨𝐣𝐨" },
  { what: "a lone surrogate", name: "jojo\ud800" },
  { what: "a line separator", name: "jojo\u2028" },
  { what: "a space", name: "jo jo" },
  { what: "a leading space", name: " jojo" },
  { what: "33 characters", name: "j".repeat(33) },
  { what: "nothing", name: "" },
];

Deno.test("router answers invalid_name to names with controls, escapes, bidi, zero-width and look-alike characters, echoing none of them", async () => {
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  await using users = await bystanders(server);
  const jojo = await TestClient.connect(server, "jojo");
  assert.equal(
    (await jojo.client.request({ t: "create", group: "team" })).t,
    "ok",
  );
  await using raw = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });

  for (const { what, name } of hostileNames) {
    const reply = await raw.register(name);
    assert.equal(reply.t, "error", `${what}: ${JSON.stringify(reply)}`);
    if (reply.t !== "error") continue;
    assert.equal(reply.code, "invalid_name", what);
    assert.match(reply.text, PRINTABLE_ASCII, what);
  }
  // Case is no disguise either: names are compared ignoring case, and this
  // one is bound to jojo's identity key.
  for (const name of ["JOJO", "JoJo"]) {
    const reply = await raw.register(name);
    assert.equal(reply.t === "error" && reply.code, "identity", name);
    assert.match(
      reply.t === "error" ? reply.text : "",
      /belongs to another identity key/,
    );
  }
  assert.equal((await raw.register("mallory")).t, "welcome");

  for (const { what, name } of hostileNames) {
    const created = await raw.request({ t: "create", group: name });
    assert.equal(
      created.t === "error" && created.code,
      "invalid_name",
      `create ${what}`,
    );
    assert.match(created.t === "error" ? created.text : "", PRINTABLE_ASCII);
    const joined = await raw.request({ t: "join", group: name });
    assert.equal(joined.t, "error", `join ${what}`);
    assert.match(joined.t === "error" ? joined.text : "", PRINTABLE_ASCII);
    const sent = await raw.request(
      { t: "msg", to: name },
      encoder.encode(`for ${what}`),
    );
    assert.equal(sent.t, "error", `msg ${what}: ${JSON.stringify(sent)}`);
    assert.equal(sent.t === "error" && sent.code, "no_such_user", what);
    assert.match(sent.t === "error" ? sent.text : "", PRINTABLE_ASCII);
  }
  // A look-alike of an existing group is not that group.
  const lookAlike = await raw.request({ t: "join", group: "tеam" });
  assert.equal(lookAlike.t === "error" && lookAlike.code, "no_such_group");
  const upper = await raw.request({ t: "create", group: "TEAM" });
  assert.equal(upper.t === "error" && upper.code, "group_exists");

  await settle(jojo, users.alice, users.bob);
  assert.deepEqual(jojo.chat(), [], "nothing reached jojo");
  const list = await users.alice.client.request({ t: "list" });
  assert.deepEqual(
    list.t === "users" && list.users.map((u) => u.name).sort(),
    ["alice", "bob", "jojo", "mallory"],
  );
  const groups = await users.alice.client.request({ t: "groups" });
  assert.deepEqual(groups.t === "groups" && groups.groups, [{
    name: "team",
    members: 1,
  }]);
  assert.ok(server.logs.every((l) => PRINTABLE_ASCII.test(l)), "clean logs");
  await jojo.quit();
  await assertStillChatting(users, "after hostile names");
});

// --- 9. A file transfer abandoned by a receiver ------------------------------------

/** Reads what the server sends `peer` until a file offer; returns its number. */
async function offerSeenBy(peer: TcpChatPeer): Promise<number> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const data = await peer.tcp.readBinary(Math.max(1, deadline - Date.now()));
    for (const { header } of decodeBatch(await peer.keys.receiver.open(data))) {
      const message = parseServerMessage(header);
      if (message.t === "file_offer") return message.xfer;
    }
  }
}

Deno.test("a receiver that drops mid-transfer is reported to the sender as failed; the transfer goes on for the others", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const sophia = await TestClient.connect(server, "sophia");
  const ghost = await TcpChatPeer.connect(server.port, server.spki);
  try {
    assert.equal((await ghost.register("ghost")).t, "welcome");
    assert.equal(
      (await sophia.client.request({ t: "create", group: "crew" })).t,
      "ok",
    );
    const bobJoined = await users.bob.client.request({
      t: "join",
      group: "crew",
    });
    assert.equal(bobJoined.t, "ok", JSON.stringify(bobJoined));
    const ghostJoined = await ghost.request({ t: "join", group: "crew" });
    assert.equal(ghostJoined.t, "ok", JSON.stringify(ghostJoined));

    const size = 4 * 64 * 1024;
    const offered = sophia.client.request({
      t: "file_offer",
      name: "half.bin",
      size,
      group: "crew",
    });
    // Both accept: nothing is forwarded to a recipient before it does.
    const offer = await users.bob.waitFor((m) => m.message.t === "file_offer");
    const xfer = offer.message.t === "file_offer" ? offer.message.xfer : -1;
    users.bob.client.post({ t: "file_accept", xfer });
    await ghost.sendFrame(await ghost.seal({ t: "file_accept", xfer }));
    const ready = await offered;
    assert.equal(ready.t, "file_ready", JSON.stringify(ready));
    if (ready.t !== "file_ready") return;
    assert.deepEqual(ready.recipients.sort(), ["bob", "ghost"]);
    // A body as long as 64 KiB sealed with the file key (the server does
    // not open it), fresh each time: the channel frees it once sealed.
    const post = (offset: number) =>
      sophia.client.post(
        { t: "file_chunk", xfer: ready.xfer, offset },
        new Uint8Array(64 * 1024 + FILE_CHUNK_TAG_BYTES).fill(7),
        true,
      );
    post(0);
    post(64 * 1024);
    await settle(sophia);

    ghost.drop();
    const result = await sophia.waitFor((m) =>
      m.message.t === "file_result" && m.message.name === "ghost"
    );
    assert.deepEqual(result.message, {
      t: "file_result",
      xfer: ready.xfer,
      name: "ghost",
      ok: false,
      reason: "ghost disconnected",
      // Broken, not refused: offering it again may resume (issue 16).
      resumable: true,
    });

    // Bob still gets the rest, and his verdict reaches Sophia.
    post(2 * 64 * 1024);
    post(3 * 64 * 1024);
    sophia.client.post(
      { t: "file_end", xfer: ready.xfer, sha256: "0".repeat(64) },
      undefined,
      true,
    );
    await users.bob.waitFor((m) =>
      m.message.t === "file_end" && m.message.xfer === ready.xfer
    );
    users.bob.client.post({
      t: "file_done",
      xfer: ready.xfer,
      ok: true,
      reason: "",
    });
    const bobs = await sophia.waitFor((m) =>
      m.message.t === "file_result" && m.message.name === "bob"
    );
    assert.equal(bobs.message.t === "file_result" && bobs.message.ok, true);
  } finally {
    ghost.drop();
  }
  await waitForLog(server, /^ghost left$/);
  await sophia.quit();
  await assertStillChatting(users, "after an abandoned transfer");
});

Deno.test("a private transfer whose only receiver drops is over: the sender is told, and later chunks are dropped quietly", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const sophia = await TestClient.connect(server, "sophia");
  const ghost = await TcpChatPeer.connect(server.port, server.spki);
  try {
    assert.equal((await ghost.register("ghost")).t, "welcome");
    const offered = sophia.client.request({
      t: "file_offer",
      name: "gone.bin",
      size: 200_000,
      to: "ghost",
    });
    const xfer = await offerSeenBy(ghost);
    await ghost.sendFrame(await ghost.seal({ t: "file_accept", xfer }));
    const ready = await offered;
    assert.equal(ready.t, "file_ready", JSON.stringify(ready));
    if (ready.t !== "file_ready") return;
    sophia.client.post(
      { t: "file_chunk", xfer: ready.xfer, offset: 0 },
      new Uint8Array(100_000 + FILE_CHUNK_TAG_BYTES),
      true,
    );
    await settle(sophia);
    ghost.drop();
    const result = await sophia.waitFor((m) =>
      m.message.t === "file_result" && m.message.xfer === ready.xfer
    );
    assert.equal(
      result.message.t === "file_result" && result.message.ok,
      false,
    );
    assert.match(
      result.message.t === "file_result" ? result.message.reason : "",
      /^ghost disconnected$/,
    );
    // Still in flight from Sophia's side: ignored, no error, no cancel.
    sophia.client.post(
      { t: "file_chunk", xfer: ready.xfer, offset: 100_000 },
      new Uint8Array(100_000 + FILE_CHUNK_TAG_BYTES),
      true,
    );
    await settle(sophia);
    assert.ok(
      !sophia.inbox.some((m) =>
        m.message.t === "file_cancel" || m.message.t === "error"
      ),
      JSON.stringify(sophia.inbox.map((m) => m.message)),
    );
  } finally {
    ghost.drop();
  }
  await sophia.quit();
  await assertStillChatting(users, "after a receiver dropped");
});
