import assert from "node:assert/strict";
import {
  type BusEvent,
  crossing,
  decodeBusEvent,
  encodeBusEvent,
  fileAnswer,
  fileCrossings,
  signedIn,
} from "../../../src/server/cluster/bus_event.ts";
import { MAX_TEXT_BYTES } from "../../../src/protocol/limits.ts";

const body = new TextEncoder().encode("hello");
const nobodyLocal = () => false;
const FP = "SHA256:" + "f".repeat(43);

Deno.test("encodeBusEvent and decodeBusEvent round-trip public, private, group and end-to-end events", () => {
  const events: BusEvent[] = [
    { kind: "public", node: "n1", from: "alice", ts: 5, body },
    { kind: "private", node: "n2", from: "Bob.B", to: "alice", ts: 6, body },
    { kind: "group", node: "n3", from: "alice", group: "Team", ts: 7, body },
    {
      kind: "e2e_private",
      node: "n4",
      from: "alice",
      to: "bob",
      fingerprint: FP,
      ts: 8,
      body,
    },
    {
      kind: "e2e_group",
      node: "n5",
      from: "alice",
      group: "Team",
      fingerprint: FP,
      ts: 9,
      body,
    },
  ];
  for (const event of events) {
    assert.deepEqual(decodeBusEvent(encodeBusEvent(event)), event);
  }
});

Deno.test("decodeBusEvent refuses bad fields with a TypeError", () => {
  const good: BusEvent = {
    kind: "public",
    node: "n1",
    from: "alice",
    ts: 5,
    body,
  };
  const bad: [string, Uint8Array][] = [
    ["short", new Uint8Array(2)],
    ["bad sender", encodeBusEvent({ ...good, from: "no spaces" })],
    ["bad node", encodeBusEvent({ ...good, node: "a.b" })],
    ["bad time", encodeBusEvent({ ...good, ts: -1 })],
    ["empty body", encodeBusEvent({ ...good, body: new Uint8Array(0) })],
    [
      "oversized body",
      encodeBusEvent({ ...good, body: new Uint8Array(MAX_TEXT_BYTES + 1) }),
    ],
    [
      "recipient not a name key",
      encodeBusEvent({ ...good, kind: "private", to: "Alice" }),
    ],
  ];
  for (const [why, bytes] of bad) {
    assert.throws(() => decodeBusEvent(bytes), TypeError, why);
  }
  const header = new TextEncoder().encode('{"v":2}');
  const future = new Uint8Array(4 + header.length + 1);
  new DataView(future.buffer).setUint32(0, header.length);
  future.set(header, 4);
  assert.throws(() => decodeBusEvent(future), /version 2/);
});

Deno.test("crossing passes on live public, private and group messages, not replies, history, presence, membership or local users' messages", () => {
  const publicOut = crossing(
    {
      to: { kind: "room", except: "alice" },
      message: { t: "public", from: "alice", ts: 1, id: 9, seq: 3 },
      body,
    },
    "n1",
    nobodyLocal,
  );
  assert.deepEqual(publicOut, {
    subject: "chat.room",
    // Without the origin's id and seq: each node stores its own.
    event: { kind: "public", node: "n1", from: "alice", ts: 1, body },
  });
  const privateOut = crossing(
    {
      to: { kind: "user", key: "bo.b" },
      message: { t: "private", from: "alice", ts: 2, id: 10, seq: 1 },
      body,
    },
    "n1",
    nobodyLocal,
  );
  assert.equal(privateOut?.subject, "chat.user.626f2e62");
  assert.deepEqual(privateOut?.event, {
    kind: "private",
    node: "n1",
    from: "alice",
    to: "bo.b",
    ts: 2,
    body,
  });
  const stays = [
    crossing(
      {
        to: { kind: "user", key: "bob" },
        message: { t: "private", from: "alice", ts: 2 },
        body,
      },
      "n1",
      (key) => key === "bob",
    ),
    crossing(
      {
        to: { kind: "connection", id: 1 },
        message: { t: "public", from: "alice", ts: 1, history: true },
        body,
      },
      "n1",
      nobodyLocal,
    ),
    crossing(
      {
        to: { kind: "room" },
        message: { t: "presence", name: "alice", online: true },
      },
      "n1",
      nobodyLocal,
    ),
    crossing(
      {
        to: [1, 2],
        message: { t: "public", from: "alice", ts: 1 },
        body,
      },
      "n1",
      nobodyLocal,
    ),
    crossing(
      {
        to: { kind: "group", key: "g" },
        message: { t: "membership", group: "g", name: "alice", joined: true },
      },
      "n1",
      nobodyLocal,
    ),
  ];
  assert.deepEqual(stays, [null, null, null, null, null]);
  const groupOut = crossing(
    {
      to: { kind: "group", key: "team", except: "alice" },
      message: {
        t: "group",
        group: "Team",
        from: "alice",
        ts: 3,
        id: 4,
        seq: 2,
      },
      body,
    },
    "n1",
    nobodyLocal,
  );
  assert.equal(groupOut?.subject, "chat.group.7465616d");
  assert.deepEqual(groupOut?.event, {
    kind: "group",
    node: "n1",
    from: "alice",
    group: "Team",
    ts: 3,
    body,
  });
});

Deno.test("encodeBusEvent matches the test vector in docs/SCALING.md", () => {
  const bytes = encodeBusEvent({
    kind: "private",
    node: "n1",
    from: "alice",
    to: "bob",
    ts: 1700000000000,
    body: new TextEncoder().encode("hi"),
  });
  assert.equal(
    bytes.toHex(),
    "0000004e" +
      new TextEncoder().encode(
        '{"v":1,"k":"private","node":"n1","from":"alice","ts":1700000000000,"to":"bob"}',
      ).toHex() + "6869",
  );
  const docs = Deno.readTextFileSync(
    new URL("../../../docs/SCALING.md", import.meta.url),
  );
  assert.ok(docs.includes(bytes.toHex()), "the vector is in the docs");
});

Deno.test("signedIn goes to the user's subject, without a body, and decodes back", () => {
  const { subject, event } = signedIn("Alice", "n1", 42);
  assert.equal(subject, "chat.user.616c696365");
  const bytes = encodeBusEvent(event);
  assert.deepEqual(decodeBusEvent(bytes), {
    kind: "signed_in",
    node: "n1",
    from: "Alice",
    ts: 42,
  });
  const withBody = new Uint8Array([...bytes, 1]);
  assert.throws(() => decodeBusEvent(withBody), /has a body/);
});

Deno.test("decodeBusEvent refuses an end-to-end event without a valid fingerprint", () => {
  const event: BusEvent = {
    kind: "e2e_private",
    node: "n1",
    from: "alice",
    to: "bob",
    fingerprint: "SHA256:short",
    ts: 5,
    body,
  };
  assert.throws(() => decodeBusEvent(encodeBusEvent(event)), TypeError);
});

Deno.test("crossing passes end-to-end private messages to users elsewhere and end-to-end group messages, with the sender's key", () => {
  const toBob = crossing(
    {
      to: { kind: "user", key: "bob" },
      message: {
        t: "e2e_private",
        from: "alice",
        fingerprint: FP,
        ts: 2,
        id: 4,
        seq: 1,
      },
      body,
    },
    "n1",
    nobodyLocal,
  );
  assert.equal(toBob?.subject, "chat.user.626f62");
  assert.deepEqual(toBob?.event, {
    kind: "e2e_private",
    node: "n1",
    from: "alice",
    to: "bob",
    fingerprint: FP,
    ts: 2,
    body,
  });
  const toTeam = crossing(
    {
      to: { kind: "group", key: "team", except: "alice" },
      message: {
        t: "e2e_group",
        group: "Team",
        from: "alice",
        fingerprint: FP,
        ts: 3,
      },
      body,
    },
    "n1",
    nobodyLocal,
  );
  assert.equal(toTeam?.subject, "chat.group.7465616d");
  assert.equal(toTeam?.event.kind, "e2e_group");
  // Signed in here: the bus is not needed.
  assert.equal(
    crossing(
      {
        to: { kind: "user", key: "bob" },
        message: { t: "e2e_private", from: "alice", fingerprint: FP, ts: 2 },
        body,
      },
      "n1",
      (key) => key === "bob",
    ),
    null,
  );
});

Deno.test("fileCrossings sends a transfer's messages to stand-ins to their users' subjects, with the chunk as it came, and decodes back", () => {
  const chunkBody = new Uint8Array(40).fill(7);
  const remoteOf = (id: number) =>
    id === -1 ? { name: "Bob", nameKey: "bob" } : undefined;
  const crossings = fileCrossings(
    {
      to: [3, -1, -2],
      message: { t: "file_chunk", xfer: 5, offset: 0 },
      body: chunkBody,
    },
    "n1",
    remoteOf,
    99,
  );
  assert.equal(crossings.length, 1);
  assert.equal(crossings[0]!.subject, "chat.user.626f62");
  const event = crossings[0]!.event;
  assert.deepEqual(event, {
    kind: "file",
    node: "n1",
    from: "Bob",
    ts: 99,
    message: { t: "file_chunk", xfer: 5, offset: 0 },
    body: chunkBody,
  });
  assert.deepEqual(decodeBusEvent(encodeBusEvent(event)), event);
  // Chat messages and replies are not file crossings.
  assert.deepEqual(
    fileCrossings(
      { to: [-1], message: { t: "pong", re: 1 } },
      "n1",
      remoteOf,
      99,
    ),
    [],
  );
});

Deno.test("fileAnswer goes to the transfer's subject on the sender's node, and decodes back; a bad one is refused", () => {
  const told = fileAnswer(
    "n1",
    5,
    "n2",
    "Bob",
    { t: "file_ack", xfer: 5, received: 100 },
    99,
  );
  assert.equal(told.subject, "chat.xfer.n1.5");
  assert.deepEqual(decodeBusEvent(encodeBusEvent(told.event)), told.event);
  const gone = fileAnswer("n1", 5, "n2", "Bob", null, 99);
  assert.deepEqual(decodeBusEvent(encodeBusEvent(gone.event)), gone.event);
  const other = fileAnswer(
    "n1",
    5,
    "n2",
    "Bob",
    { t: "file_ack", xfer: 6, received: 100 },
    99,
  );
  assert.throws(() => decodeBusEvent(encodeBusEvent(other.event)), TypeError);
  const notAnswer = {
    ...told.event,
    answer: { t: "say", id: 1 },
  } as unknown as BusEvent;
  assert.throws(
    () => decodeBusEvent(encodeBusEvent(notAnswer)),
    TypeError,
  );
  // A chunk without its bytes is refused.
  const [empty] = fileCrossings(
    { to: [-1], message: { t: "file_chunk", xfer: 5, offset: 0 } },
    "n1",
    () => ({ name: "Bob", nameKey: "bob" }),
    99,
  );
  assert.throws(() => decodeBusEvent(encodeBusEvent(empty!.event)), TypeError);
});
