/**
 * Hostile peers on the wire, over a real server and real WebSockets: tampered,
 * replayed, reordered, reflected and malformed frames, replayed handshakes and
 * garbage. Each attacked connection must be closed by the server with a logged
 * reason, and two well-behaved users connected alongside must keep chatting.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { KeyMismatchError } from "../../src/crypto/handshake.ts";
import { fingerprint } from "../../src/crypto/keys.ts";
import {
  FRAME_HEADER_BYTES,
  MIN_FRAME_BYTES,
} from "../../src/crypto/session_cipher.ts";
import { encodeCompactChat } from "../../src/protocol/compact_chat.ts";
import {
  MAX_FRAME_BYTES,
  MAX_HANDSHAKE_BYTES,
} from "../../src/protocol/limits.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { CloseCode } from "../../src/transport/connection.ts";
import {
  otherPublicSpki,
  settle,
  startTestServer,
  type TestServer,
} from "../_helpers/chat.ts";
import { frameSeq, RawClient } from "../_helpers/raw_client.ts";
import {
  assertStillChatting,
  type Bystanders,
  bystanders,
  waitForLog,
} from "../_helpers/bystanders.ts";

const encoder = new TextEncoder();

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

function sayFrame(raw: RawClient, text: string): Promise<Uint8Array> {
  return raw.seal({
    header: { t: "say", id: raw.nextId() },
    body: encoder.encode(text),
  });
}

/** Every chat line any bystander received whose text is `text`. */
async function heard(
  { alice, bob }: Bystanders,
  text: string,
): Promise<[string, string, string][]> {
  await settle(alice, bob);
  return [...alice.chat(), ...bob.chat()].filter(([, , t]) => t === text);
}

function flipped(frame: Uint8Array, index: number): Uint8Array {
  const copy = frame.slice();
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}

// --- 1. Tampering -------------------------------------------------------------

const tamperings: {
  what: string;
  index: (frame: Uint8Array) => number;
  log: RegExp;
}[] = [
  {
    what: "a flipped ciphertext byte",
    index: () => FRAME_HEADER_BYTES + 2,
    log: /Rejected frame: Frame 2 failed authentication/,
  },
  {
    what: "a flipped tag byte",
    index: (frame) => frame.length - 1,
    log: /Rejected frame: Frame 2 failed authentication/,
  },
  {
    what: "a flipped version byte",
    index: () => 0,
    log: /Rejected frame: Unsupported frame version 0/,
  },
];

for (const { what, index, log } of tamperings) {
  Deno.test(`SecureChannel.receive closes with 1002 on a frame with ${what} and delivers nothing`, async () => {
    await using server = await startTestServer();
    await using users = await bystanders(server);
    await using raw = await registeredRaw(server, "mallory");

    const frame = await sayFrame(raw, "tampered");
    raw.send(flipped(frame, index(frame)));

    const line = await assertClosedByServer(
      server,
      raw,
      CloseCode.protocolError,
      log,
    );
    assert.match(line, /^closing mallory \(127\.0\.0\.1:\d+\): /);
    assert.deepEqual(await heard(users, "tampered"), []);
    await assertStillChatting(users, "after tampering");
  });
}

// --- 2. Replay ----------------------------------------------------------------

Deno.test("SecureChannel.receive processes a frame once and closes with 1002 when it is replayed", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await registeredRaw(server, "mallory");

  const id = raw.nextId();
  const frame = await raw.seal({
    header: { t: "say", id },
    body: encoder.encode("only once"),
  });
  raw.send(frame);
  assert.equal((await raw.replyTo(id)).t, "ok");
  await users.bob.waitFor((m) => m.text === "only once");

  raw.send(frame);
  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    /closing mallory .*: Rejected frame: Frame out of sequence: expected 3, got 2/,
  );
  assert.deepEqual(await heard(users, "only once"), [
    ["public", "mallory", "only once"],
    ["public", "mallory", "only once"],
  ], "once for alice and once for bob, never twice");
  assert.equal(users.alice.chat().length, 1);
  await assertStillChatting(users, "after a replay");
});

// --- 3. Sequence gaps and reordering ------------------------------------------

Deno.test("SecureChannel.receive closes with 1002 when a frame skips a sequence number", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await registeredRaw(server, "mallory");

  const skipped = await sayFrame(raw, "skipped");
  const afterGap = await sayFrame(raw, "after the gap");
  assert.equal(frameSeq(skipped), 2n);
  assert.equal(frameSeq(afterGap), 3n);
  raw.send(afterGap);

  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    /Rejected frame: Frame out of sequence: expected 2, got 3/,
  );
  assert.deepEqual(await heard(users, "after the gap"), []);
  await assertStillChatting(users, "after a gap");
});

Deno.test("SecureChannel.receive closes with 1002 on reordered frames and processes neither", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });

  const first = await raw.seal({
    header: { t: "register", id: raw.nextId(), name: "mallory" },
  });
  const second = await sayFrame(raw, "second first");
  raw.send(second);
  raw.send(first);

  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    /Rejected frame: Frame out of sequence: expected 0, got 1/,
  );
  assert.deepEqual(
    raw.received.filter((data) => typeof data !== "string"),
    [],
    "no reply to either frame",
  );
  assert.deepEqual(await heard(users, "second first"), []);
  const list = await users.alice.client.request({ t: "list" });
  assert.deepEqual(list.t === "users" && list.users.map((u) => u.name), [
    "alice",
    "bob",
  ]);
  await assertStillChatting(users, "after reordering");
});

// --- 4. Reflection ------------------------------------------------------------

Deno.test("SecureChannel.receive closes with 1002 on a server frame reflected back to the server", async () => {
  await using server = await startTestServer();
  await using raw = await registeredRaw(server, "mallory");
  // Registered after mallory, so mallory receives their presence unprompted:
  // server frame 2 arrives while the server expects client frame 2.
  await using users = await bystanders(server);

  const presence = await raw.nextFrame();
  const [opened] = await raw.openFrame(presence);
  assert.deepEqual(opened?.message, {
    t: "presence",
    name: "alice",
    online: true,
  });
  assert.equal(frameSeq(presence), 2n);
  assert.equal(raw.keys.sender.nextSeq, 2, "the sequence number matches");
  raw.send(presence);

  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    /closing mallory .*: Rejected frame: Frame 2 failed authentication/,
  );
  await assertStillChatting(users, "after a reflection");
});

// --- 5. Truncated, empty and oversized frames ---------------------------------

Deno.test("SecureChannel.receive closes with 1002 on a frame shorter than header and tag", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await registeredRaw(server, "mallory");

  const frame = await sayFrame(raw, "truncated");
  raw.send(frame.subarray(0, MIN_FRAME_BYTES - 1));

  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    new RegExp(
      `Rejected frame: Frame too short: ${MIN_FRAME_BYTES - 1} bytes`,
    ),
  );
  assert.deepEqual(await heard(users, "truncated"), []);
  await assertStillChatting(users, "after truncation");
});

Deno.test("SecureChannel.receive closes with 1002 on an empty binary frame", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await registeredRaw(server, "mallory");

  raw.send(new Uint8Array(0));

  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    /Rejected frame: Frame too short: 0 bytes/,
  );
  await assertStillChatting(users, "after an empty frame");
});

Deno.test("startServer closes with 1009 on a frame over MAX_FRAME_BYTES", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await registeredRaw(server, "mallory");

  const frame = await sayFrame(raw, "x");
  const huge = new Uint8Array(MAX_FRAME_BYTES + 1);
  huge.set(frame);
  raw.send(huge);

  await assertClosedByServer(
    server,
    raw,
    CloseCode.tooBig,
    // Cut off by the WebSocket layer, before the frame is even complete.
    /^closed mallory .*: its message was larger than the limit$/,
  );
  await assertStillChatting(users, "after a huge frame");
});

// --- 6. Text after the handshake ----------------------------------------------

Deno.test("SecureChannel.receive closes with 1002 on a text frame after the handshake", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await registeredRaw(server, "mallory");

  raw.send(JSON.stringify({ t: "say", id: raw.nextId() }));

  await assertClosedByServer(
    server,
    raw,
    CloseCode.protocolError,
    /closing mallory .*: Text frame after the handshake/,
  );
  await assertStillChatting(users, "after a text frame");
});

// --- 7. Replayed handshake ----------------------------------------------------

Deno.test("acceptChannel refuses a replayed handshake and frames from the recorded session are never processed", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);

  // The recorded session: a genuine handshake, a registration and a message.
  const recorded = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  assert.equal((await recorded.register("eve")).t, "welcome");
  const sayId = recorded.nextId();
  const sayRecorded = await recorded.seal({
    header: { t: "say", id: sayId },
    body: encoder.encode("recorded"),
  });
  recorded.send(sayRecorded);
  assert.equal((await recorded.replyTo(sayId)).t, "ok");
  await users.alice.waitFor((m) => m.text === "recorded");
  const { clientHello, clientFinished, serverHello } = recorded.texts;
  // Frees the name "eve", so a replayed registration would succeed if processed.
  await recorded.close();
  await waitForLog(server, /^eve left$/);

  const replay = await RawClient.open(server.url);
  const newServerHello = await replay.nextText();
  assert.notEqual(newServerHello, serverHello, "a fresh server nonce");
  replay.send(clientHello);
  const serverFinished = JSON.parse(await replay.nextText());
  assert.equal(serverFinished.type, "server_finished");
  replay.send(clientFinished);
  replay.send(sayRecorded);

  await assertClosedByServer(
    server,
    replay,
    CloseCode.policyViolation,
    /^handshake with 127\.0\.0\.1:\d+ failed: Handshake failed: the client's finished MAC did not verify/,
  );
  await replay.close();
  assert.equal(replay.received.length, 2, "server_hello and server_finished");
  assert.ok(
    replay.received.every((data) => typeof data === "string"),
    "the server never sent encrypted traffic",
  );
  assert.deepEqual(await heard(users, "recorded"), [
    ["public", "eve", "recorded"],
    ["public", "eve", "recorded"],
  ], "delivered once to each, by the original session only");
  const list = await users.bob.client.request({ t: "list" });
  assert.deepEqual(list.t === "users" && list.users.map((u) => u.name), [
    "alice",
    "bob",
  ]);
  assert.equal(
    server.logs.filter((l) => l.startsWith("eve registered")).length,
    1,
  );
  await assertStillChatting(users, "after a replayed handshake");
});

// --- 8. Garbage before the handshake ------------------------------------------

const garbage: {
  what: string;
  data: () => string | Uint8Array;
  log: RegExp;
  code?: number;
}[] = [
  {
    what: "binary data",
    data: () => new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0, 42]),
    log: /failed: expected a handshake message, got binary data/,
  },
  {
    what: "non-JSON text",
    data: () => "hello? {",
    log: /failed: Malformed client_hello: not valid JSON/,
  },
  {
    what: "JSON with the wrong type",
    data: () =>
      JSON.stringify({ type: "client_finished", mac: btoa("x".repeat(32)) }),
    log:
      /failed: Unexpected handshake message: expected 'client_hello', got 'client_finished'/,
  },
  {
    what: "JSON that is not an object",
    data: () => JSON.stringify(["client_hello", 1]),
    log: /failed: Malformed client_hello: not a JSON object/,
  },
  {
    what: "an oversized text",
    data: () =>
      JSON.stringify({
        type: "client_hello",
        pad: "x".repeat(MAX_HANDSHAKE_BYTES),
      }),
    // The edge cuts it at MAX_HANDSHAKE_BYTES, before acceptChannel sees it.
    code: CloseCode.tooBig,
    log: /failed: the connection closed during the handshake/,
  },
];

for (const { what, data, log, code } of garbage) {
  Deno.test(
    `acceptChannel closes with ${
      code ?? CloseCode.policyViolation
    } on ${what} instead of client_hello`,
    async () => {
      await using server = await startTestServer();
      await using users = await bystanders(server);
      await using raw = await RawClient.open(server.url);

      assert.equal(JSON.parse(await raw.nextText()).type, "server_hello");
      raw.send(data());

      const line = await assertClosedByServer(
        server,
        raw,
        code ?? CloseCode.policyViolation,
        log,
      );
      assert.match(line, /^handshake with 127\.0\.0\.1:\d+ failed: /);
      assert.equal(raw.received.length, 1, "nothing after server_hello");
      await assertStillChatting(users, `after ${what}`);
    },
  );
}

// --- 9. Handshake timeout -----------------------------------------------------

Deno.test("acceptChannel closes a silent client after handshakeTimeoutMs", async () => {
  await using server = await startTestServer({
    connectionLimits: { handshakeTimeoutMs: 300 },
  });
  await using users = await bystanders(server);
  const started = performance.now();
  await using raw = await RawClient.open(server.url);

  const close = await raw.waitClosed(2000);
  const elapsed = performance.now() - started;
  assert.equal(close.code, CloseCode.policyViolation);
  assert.ok(elapsed >= 250, `closed after ${elapsed} ms, before the timeout`);
  assert.ok(elapsed < 1000, `closed after ${elapsed} ms`);
  await waitForLog(
    server,
    /^handshake with 127\.0\.0\.1:\d+ failed: the handshake did not finish within 0\.3 s$/,
  );
  await assertStillChatting(users, "after a timeout");
});

// --- 10. Well-sealed nonsense -------------------------------------------------

Deno.test("server answers bad_request to sealed messages of unknown type or wrong-typed fields and keeps the connection", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });

  const cases: { header: unknown; re: number | null; text: RegExp }[] = [
    {
      header: { t: "dance", id: 7 },
      re: 7,
      text: /Unknown message type 'dance'/,
    },
    { header: { id: 8 }, re: 8, text: /Missing message type/ },
    {
      header: { t: "register", id: 9, name: 42 },
      re: 9,
      text: /Field 'name' must be a string/,
    },
    {
      header: { t: "say", id: "10" },
      re: null,
      text: /Field 'id' must be a non-negative integer/,
    },
    {
      header: { t: "list", id: -1 },
      re: null,
      text: /Field 'id' must be a non-negative integer/,
    },
    {
      header: ["say", 1],
      re: null,
      text: /Message header is not an object/,
    },
  ];
  for (const { header, re, text } of cases) {
    await raw.sendMessage(header, encoder.encode("should not be said"));
    const [reply, ...more] = await raw.receiveMessages();
    assert.deepEqual(more, []);
    assert.ok(reply);
    const message: ServerMessage = reply.message;
    assert.equal(message.t, "error", JSON.stringify(message));
    if (message.t !== "error") continue;
    assert.equal(message.code, "bad_request");
    assert.equal(message.re, re);
    assert.match(message.text, /^ERROR: Bad request: /);
    assert.match(message.text, text);
  }

  // One frame mixing good and bad: each message is answered, in order.
  const registerId = raw.nextId();
  raw.send(
    await raw.seal({ header: { t: "nope", id: 50 } }, {
      header: {
        t: "register",
        id: registerId,
        name: "mallory",
        // RFC 8032's first test key: any well-formed key gets a challenge.
        key: "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
      },
    }),
  );
  // The challenge needs async crypto, so it may come in a later frame.
  assert.equal((await raw.replyTo(50)).t, "error");
  assert.equal((await raw.replyTo(registerId)).t, "challenge");
  assert.equal((await raw.register("mallory")).t, "welcome");

  // Still open and usable.
  assert.equal(raw.isClosed, false);
  const said = await raw.request({ t: "say" }, encoder.encode("hi all"));
  assert.equal(said.t, "ok");
  await users.alice.waitFor((m) => m.text === "hi all");
  assert.deepEqual(await heard(users, "should not be said"), []);
  assert.deepEqual(server.logs.filter((l) => l.startsWith("closing")), []);
  await assertStillChatting(users, "after bad requests");
});

for (
  const [what, plaintext, logged] of [
    // Claims a 16 MiB header: authentic, but not a valid batch.
    [
      "a sealed frame whose plaintext is not a batch",
      [0, 255, 255, 255, 0, 0, 0, 0, 1],
      /closing mallory .*: Malformed batch: Bad header length 16777215/,
    ],
    // 0x04 and up start no message form (0x00 JSON, 0x01-0x03 compact chat).
    [
      "a batch whose message starts with no known form",
      [255, 255, 255, 255, 0, 0, 0, 0, 1],
      /closing mallory .*: Malformed batch: Unknown message form 255/,
    ],
  ] as const
) {
  Deno.test(`SecureChannel.receive closes with 1002 on ${what}`, async () => {
    await using server = await startTestServer();
    await using users = await bystanders(server);
    await using raw = await registeredRaw(server, "mallory");

    raw.send(await raw.sealPlaintext(new Uint8Array(plaintext)));

    await assertClosedByServer(
      server,
      raw,
      CloseCode.protocolError,
      logged,
    );
    await assertStillChatting(users, `after ${what}`);
  });
}

Deno.test("a compact chat message from a client is a request of unknown type: bad_request, and the session goes on", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await registeredRaw(server, "mallory");

  // The server's form of a public message, posing as "alice".
  raw.send(
    await raw.sealPlaintext(
      encodeCompactChat(
        { t: "public", from: "alice", ts: Date.now() },
        encoder.encode("forged"),
      )!,
    ),
  );
  const [reply] = await raw.receiveMessages();
  assert.deepEqual(reply?.message, {
    t: "error",
    re: null,
    code: "bad_request",
    text: "ERROR: Bad request: Unknown message type 'public'",
  });
  assert.deepEqual(await heard(users, "forged"), []);
  assert.equal(raw.isClosed, false);
  await assertStillChatting(users, "after a compact message from a client");
});

// --- 11. Commands before registering ------------------------------------------

Deno.test("router answers not_registered to commands before register and delivers nothing", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  await using raw = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });

  const before: { header: Record<string, unknown>; body?: string }[] = [
    { header: { t: "say" }, body: "anonymous" },
    { header: { t: "msg", to: "alice" }, body: "anonymous" },
    { header: { t: "gsay", group: "g" }, body: "anonymous" },
    { header: { t: "list" } },
    { header: { t: "groups" } },
    { header: { t: "create", group: "g" } },
    { header: { t: "join", group: "g" } },
    { header: { t: "leave", group: "g" } },
    { header: { t: "members" } },
  ];
  for (const { header, body } of before) {
    const reply = await raw.request(
      header,
      body === undefined ? undefined : encoder.encode(body),
    );
    assert.equal(reply.t, "error", `${header.t}: ${JSON.stringify(reply)}`);
    assert.equal(reply.t === "error" && reply.code, "not_registered");
  }

  assert.deepEqual(await heard(users, "anonymous"), []);
  const groups = await users.alice.client.request({ t: "groups" });
  assert.deepEqual(groups.t === "groups" && groups.groups, []);
  assert.equal(raw.isClosed, false);
  assert.equal((await raw.register("mallory")).t, "welcome");
  await assertStillChatting(users, "after unregistered commands");
});

// --- 12. Wrong pinned key -----------------------------------------------------

Deno.test("ChatClient.connect rejects with KeyMismatchError naming both fingerprints when the pinned key differs", async () => {
  await using server = await startTestServer();
  await using users = await bystanders(server);
  const pinned = await otherPublicSpki();
  const expected = await fingerprint(pinned);
  const presented = await fingerprint(server.spki);
  assert.notEqual(expected, presented);

  const started = performance.now();
  await assert.rejects(
    ChatClient.connect(server.url, {
      pinnedSpki: pinned,
      handshakeTimeoutMs: 5000,
    }),
    (error) => {
      assert.ok(error instanceof KeyMismatchError, String(error));
      assert.equal(error.expected, expected);
      assert.equal(error.presented, presented);
      assert.ok(error.message.includes(expected), error.message);
      assert.ok(error.message.includes(presented), error.message);
      return true;
    },
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 3000, `rejected after ${elapsed} ms`);
  // The client hung up before sending client_hello.
  await waitForLog(
    server,
    /^handshake with 127\.0\.0\.1:\d+ failed: the connection closed during the handshake$/,
  );
  await assertStillChatting(users, "after a key mismatch");
});
