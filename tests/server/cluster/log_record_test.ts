import assert from "node:assert/strict";
import { encodeHeaderFrame } from "../../../src/server/cluster/header_frame.ts";
import {
  decodeLogRecord,
  encodeLogRecord,
  logMessageId,
  type LogRecord,
  logSubject,
} from "../../../src/server/cluster/log_record.ts";

const body = new TextEncoder().encode("hi");
const CID = "00112233445566778899aabbccddeeff";

Deno.test("encodeLogRecord and decodeLogRecord round-trip every kind of record", () => {
  const records: LogRecord[] = [
    { kind: "public", from: "alice", ts: 5, body },
    { kind: "public", from: "alice", ts: 5, cid: CID, body },
    { kind: "private", from: "Bob.B", to: "alice", ts: 6, body },
    {
      kind: "private",
      from: "bob",
      to: "Alice",
      ts: 6,
      cid: CID,
      e2e: "SHA256:vdIQUtDa29Hbqqf1puorjVAhBUe52c4ZfnoHFvFeRhg",
      body,
    },
    {
      kind: "group",
      from: "alice",
      group: "Team",
      members: ["Bob", "carol"],
      ts: 7,
      body,
    },
    {
      kind: "ack",
      user: "bob",
      conversation: { kind: "private", otherKey: "alice" },
      seq: 9,
    },
    {
      kind: "ack",
      user: "bob",
      conversation: { kind: "group", groupKey: "team" },
      seq: 9,
      maxId: 12,
    },
    { kind: "delivered", user: "bob", ids: [3, 4, 8] },
    { kind: "user", name: "Dave" },
  ];
  for (const record of records) {
    assert.deepEqual(decodeLogRecord(encodeLogRecord(record)), record);
  }
});

Deno.test("encodeLogRecord writes the bytes of docs/SCALING.md's test vector", () => {
  const bytes = encodeLogRecord({
    kind: "private",
    from: "alice",
    to: "bob",
    ts: 1700000000000,
    cid: CID,
    body,
  });
  assert.equal(
    bytes.toHex(),
    "0000006b7b2276223a312c226b223a2270726976617465222c2266726f6d223a22616c696365222c227473223a313730303030303030303030302c22636964223a223030313132323333343435353636373738383939616162626363646465656666222c22746f223a22626f62227d6869",
  );
});

Deno.test("decodeLogRecord refuses bad records with a TypeError", () => {
  const good: LogRecord = { kind: "private", from: "a", to: "b", ts: 1, body };
  // Well framed (header_frame_test.ts checks the framing itself); what is
  // in the header is what these cases get wrong.
  const header = encodeHeaderFrame;
  const bad: [string, Uint8Array][] = [
    ["short", new Uint8Array(2)],
    ["past its end", new Uint8Array([0, 0, 1, 0, 123])],
    ["not JSON", header({}).fill(65, 4)],
    ["other version", header({ v: 2, k: "user", name: "a" })],
    ["unknown kind", header({ v: 1, k: "shout", from: "a", ts: 1 }, body)],
    ["bad sender", encodeLogRecord({ ...good, from: "no spaces" })],
    ["bad recipient", encodeLogRecord({ ...good, to: "a/b" })],
    ["bad time", encodeLogRecord({ ...good, ts: -1 })],
    ["bad cid", encodeLogRecord({ ...good, cid: "XYZ" })],
    ["bad fingerprint", encodeLogRecord({ ...good, e2e: "a b" })],
    ["empty body", encodeLogRecord({ ...good, body: new Uint8Array(0) })],
    [
      "public e2e",
      header({ v: 1, k: "public", from: "a", ts: 1, e2e: "x" }, body),
    ],
    ["ack body", header({ v: 1, k: "ack", user: "b", to: "a", seq: 1 }, body)],
    [
      "ack user not a key",
      header({ v: 1, k: "ack", user: "Bob", to: "a", seq: 1 }),
    ],
    [
      "ack both",
      header({ v: 1, k: "ack", user: "b", to: "a", group: "t", seq: 1 }),
    ],
    ["ack seq 0", header({ v: 1, k: "ack", user: "b", to: "a", seq: 0 })],
    ["delivered none", header({ v: 1, k: "delivered", user: "b", ids: [] })],
    [
      "delivered bad id",
      header({ v: 1, k: "delivered", user: "b", ids: [1.5] }),
    ],
    ["user bad name", header({ v: 1, k: "user", name: "" })],
    [
      "group without members",
      header({ v: 1, k: "group", from: "a", group: "t", ts: 1 }, body),
    ],
    [
      "group bad member",
      header(
        { v: 1, k: "group", from: "a", group: "t", ts: 1, members: [""] },
        body,
      ),
    ],
  ];
  for (const [why, bytes] of bad) {
    assert.throws(() => decodeLogRecord(bytes), TypeError, why);
  }
});

Deno.test("logSubject puts records under chat.log with names as hex name keys", () => {
  assert.equal(
    logSubject({ kind: "public", from: "alice", ts: 1, body }),
    "chat.log.room",
  );
  // To bob (626f62) from Alice (name key alice, 616c696365).
  assert.equal(
    logSubject({ kind: "private", from: "Alice", to: "bob", ts: 1, body }),
    "chat.log.dm.626f62.616c696365",
  );
  assert.equal(
    logSubject({
      kind: "group",
      from: "a",
      group: "T.x",
      members: [],
      ts: 1,
      body,
    }),
    "chat.log.group.742e78",
  );
  assert.equal(
    logSubject({ kind: "delivered", user: "bob", ids: [1] }),
    "chat.log.user.626f62",
  );
  assert.equal(
    logSubject({ kind: "user", name: "Bob" }),
    "chat.log.user.626f62",
  );
});

Deno.test("logMessageId is the sender's hex name key and cid, and null without a cid", () => {
  assert.equal(
    logMessageId({ kind: "public", from: "Alice", ts: 1, cid: CID, body }),
    `616c696365.${CID}`,
  );
  assert.equal(logMessageId({ kind: "public", from: "a", ts: 1, body }), null);
  assert.equal(logMessageId({ kind: "user", name: "a" }), null);
});
