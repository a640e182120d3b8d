import assert from "node:assert/strict";
import {
  isoTime,
  JSON_SCHEMA,
  jsonLine,
  jsonOf,
  schemaProblem,
} from "../../src/client/json_output.ts";
import { JSON_COMMANDS, JSON_FIELDS } from "../../src/client/json_input.ts";
import type { SessionEvent } from "../../src/client/session_events.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";

const offer: FileOfferNotice = {
  t: "file_offer",
  xfer: 4,
  from: "jojo",
  group: "haha",
  name: "a.txt",
  size: 3,
  fingerprint: "SHA256:x",
  timeout: 60_000,
};
const ts = Date.UTC(2026, 0, 2, 3, 4, 5);

/** At least one event of every kind the session emits. */
const EVENTS: SessionEvent[] = [
  { type: "notice", text: "Connecting" },
  { type: "error", re: null, code: "connection", text: "ERROR: x" },
  { type: "error", re: 3, code: "usage", text: "Usage: /msg" },
  {
    type: "incoming",
    message: { t: "group", group: "haha", from: "jojo", ts, id: 9, seq: 2 },
    text: "!time",
  },
  {
    type: "incoming",
    message: { t: "private", from: "jojo", ts, history: true, to: "sophia" },
    text: "old",
  },
  { type: "incoming", message: { t: "public", from: "a", ts }, text: "x" },
  {
    type: "incoming",
    message: { t: "presence", name: "jojo", online: false },
    text: "",
  },
  {
    type: "incoming",
    message: { t: "membership", group: "g", name: "jojo", joined: true },
    text: "",
  },
  {
    type: "incoming",
    message: { t: "welcome", re: 2, name: "bot", text: "SUCCESS" },
    text: "",
  },
  {
    type: "incoming",
    message: {
      t: "welcome",
      re: 2,
      name: "alice",
      text: "SUCCESS",
      own_after: 41,
    },
    text: "",
  },
  {
    type: "incoming",
    message: { t: "bye", reason: "shutdown", text: "bye" },
    text: "",
  },
  {
    type: "reply",
    re: "m1",
    command: { kind: "msg", to: "jojo", text: "hi" },
    reply: { t: "ok", re: 5, text: "jojo is offline" },
  },
  {
    type: "reply",
    re: 2,
    command: { kind: "say", text: "hi" },
    reply: { t: "ok", re: 5, text: "" },
  },
  {
    type: "reply",
    re: 2,
    command: { kind: "gsay", group: "g", text: "hi" },
    reply: { t: "error", re: 5, code: "not_member", text: "ERROR: no" },
  },
  {
    type: "reply",
    re: 2,
    command: { kind: "create", group: "g" },
    reply: { t: "ok", re: 5, text: "SUCCESS: created" },
  },
  {
    type: "reply",
    re: 2,
    command: { kind: "list" },
    reply: {
      t: "users",
      re: 5,
      users: [{ name: "a", lastMessageAt: null }, {
        name: "b",
        lastMessageAt: ts,
      }],
      more: 3,
    },
  },
  {
    type: "reply",
    re: 2,
    command: { kind: "groups" },
    reply: { t: "groups", re: 5, groups: [{ name: "g", members: 2 }] },
  },
  {
    type: "reply",
    re: 2,
    command: { kind: "members" },
    reply: {
      t: "members",
      re: 5,
      groups: [{ group: "g", members: ["a"], online: [] }],
    },
  },
  { type: "help", re: 1, lines: ["/msg"] },
  { type: "queued", re: 4, line: "typed offline" },
  { type: "connection", state: { kind: "lost", reason: "lost" }, queued: 0 },
  {
    type: "connection",
    state: { kind: "waiting", attempt: 2, retryAt: ts, lastError: "refused" },
    queued: 1,
  },
  {
    type: "connection",
    state: { kind: "connecting", attempt: 2, lastError: null },
    queued: 1,
  },
  {
    type: "connection",
    state: { kind: "reconnected", name: "bot" },
    queued: 1,
  },
  {
    type: "connection",
    state: { kind: "gave_up", reason: "refused" },
    queued: 0,
  },
  { type: "file_offer", offer, decision: "ask" },
  {
    type: "file_offering",
    re: 1,
    name: "a.txt",
    size: 3,
    target: { to: "jojo" },
  },
  {
    type: "file_declined",
    re: 1,
    file: "a.txt",
    declined: { name: "jojo", reason: "declined" },
  },
  {
    type: "file_progress",
    direction: "in",
    name: "a",
    peer: "jojo",
    bytes: 1,
    size: 2,
    elapsedMs: 5,
    fromBytes: 0,
    xfer: 4,
  },
  { type: "file_received", offer, name: "a (1).txt", path: "/tmp/a (1).txt" },
  { type: "file_failed", offer, reason: "checksum" },
  {
    type: "unarrived",
    from: "jojo",
    group: null,
    count: 1,
    text: "1 message from jojo has not arrived",
  },
  {
    type: "unarrived",
    from: "jojo",
    group: "g",
    count: 2,
    text: "2 messages from jojo in g have not arrived",
  },
  {
    type: "file_sent",
    re: 1,
    target: { group: "g" },
    outcome: {
      kind: "finished",
      name: "a",
      size: 3,
      results: [{ name: "jojo", ok: true, reason: "" }],
    },
  },
  {
    type: "file_sent",
    re: 1,
    target: { to: "jojo" },
    outcome: { kind: "cancelled", name: "a", reason: "gone", results: [] },
  },
  {
    type: "file_sent",
    re: 1,
    target: { to: "jojo" },
    outcome: { kind: "refused", text: "ERROR: File not found" },
  },
  { type: "notice", re: "t", text: "No file transfers." },
];

Deno.test("jsonOf gives every session event an object that follows JSON_SCHEMA and survives JSON", () => {
  const types = new Set<string>();
  for (const event of EVENTS) {
    const object = jsonOf(event);
    assert.notEqual(object, null, JSON.stringify(event));
    assert.equal(schemaProblem(object), null, JSON.stringify(object));
    assert.deepEqual(JSON.parse(JSON.stringify(object)), object);
    types.add(object!.type);
  }
  // Every type the schema lists is one the session can produce.
  assert.deepEqual([...types].sort(), Object.keys(JSON_SCHEMA).sort());
});

Deno.test("jsonOf writes a chat message with its kind, group, ISO time, id and seq", () => {
  assert.deepEqual(jsonOf(EVENTS[3]!), {
    type: "message",
    kind: "group",
    from: "jojo",
    group: "haha",
    text: "!time",
    time: "2026-01-02T03:04:05.000Z",
    history: false,
    id: 9,
    seq: 2,
  });
  assert.deepEqual(jsonOf(EVENTS[11]!), {
    type: "sent",
    re: "m1",
    kind: "private",
    to: "jojo",
    text: "hi",
    note: "jojo is offline",
  });
});

Deno.test("jsonOf gives a welcome the server's own_after as ownAfter (a released name's messages another key sent), and none when the server sent none or 0", () => {
  const welcome = (ownAfter?: number) =>
    jsonOf({
      type: "incoming",
      message: {
        t: "welcome",
        re: 2,
        name: "alice",
        text: "SUCCESS: Username registered.",
        ...(ownAfter === undefined ? {} : { own_after: ownAfter }),
      },
      text: "",
    });
  assert.deepEqual(welcome(41), {
    type: "welcome",
    name: "alice",
    text: "SUCCESS: Username registered.",
    ownAfter: 41,
  });
  assert.deepEqual(welcome(), {
    type: "welcome",
    name: "alice",
    text: "SUCCESS: Username registered.",
  });
  assert.deepEqual(welcome(0), welcome());
});

Deno.test("jsonOf gives a notice that answers a command the command's re, and others none", () => {
  assert.deepEqual(
    jsonOf({ type: "notice", re: "t", text: "No file transfers." }),
    {
      type: "notice",
      re: "t",
      text: "No file transfers.",
    },
  );
  assert.deepEqual(jsonOf({ type: "notice", text: "Connecting" }), {
    type: "notice",
    text: "Connecting",
  });
});

Deno.test("schemaProblem names unknown types, unknown or missing fields and wrong types", () => {
  assert.match(schemaProblem({ type: "nope" })!, /unknown type/);
  assert.match(schemaProblem({ type: "notice" })!, /missing field 'text'/);
  assert.match(
    schemaProblem({ type: "notice", text: "x", extra: 1 })!,
    /unknown field 'extra'/,
  );
  assert.match(schemaProblem({ type: "notice", text: 1 })!, /not string/);
  assert.match(
    schemaProblem({ type: "ok", re: null, text: "x" })!,
    /'re' is null/,
  );
  assert.equal(schemaProblem([]), "not an object");
});

Deno.test("isoTime is null for a time that is not one", () => {
  assert.equal(isoTime(Number.NaN), null);
  assert.equal(isoTime(1e20), null);
  assert.equal(isoTime(0), "1970-01-01T00:00:00.000Z");
});

Deno.test("the README's JSON mode tables name every event type with its fields, and every command", async () => {
  const readme = await Deno.readTextFile(
    new URL("../../README.md", import.meta.url),
  );
  for (const [type, fields] of Object.entries(JSON_SCHEMA)) {
    // The last such row: the events table follows the commands table.
    const row = readme.split("\n").findLast((line) =>
      line.startsWith(`| \`${type}\` `)
    );
    assert.ok(row !== undefined, `README has no row for ${type}`);
    for (const [name, field] of Object.entries(fields)) {
      assert.ok(
        row.includes(`\`${name}${field.optional ? "?" : ""}\``),
        `README's ${type} row lacks ${name}`,
      );
    }
  }
  for (const command of JSON_COMMANDS) {
    assert.ok(readme.includes(`| \`${command}\` `), command);
  }
});

Deno.test("the README's JSON commands table gives each command the fields json_input.ts takes", async () => {
  const lines = (await Deno.readTextFile(
    new URL("../../README.md", import.meta.url),
  )).split("\n");
  const header = lines.findIndex((line) =>
    line.startsWith("| command (`cmd`)")
  );
  assert.notEqual(header, -1, "README has the JSON commands table");
  const table = lines.slice(header + 2, lines.indexOf("", header));
  assert.equal(table.length, JSON_COMMANDS.length);
  for (const command of JSON_COMMANDS) {
    const row = table.find((line) => line.startsWith(`| \`${command}\` `));
    assert.ok(row !== undefined, `README has no row for ${command}`);
    // What a field is is said in parentheses, its name alone outside.
    const cell = row.split("|")[2]!.replace(/\([^)]*\)/g, "");
    const fields = [...cell.matchAll(/`([a-z]+)`/g)].map((m) => m[1]);
    assert.deepEqual(fields, [...JSON_FIELDS[command]], command);
  }
});

Deno.test("jsonLine writes U+2028, U+2029 and U+0085 escaped, the same value, so that any line splitter sees one event", () => {
  const event = { type: "private", text: "a\u2028b\u2029c\u0085d\ne" };
  const line = jsonLine(event);
  // Python's str.splitlines() also splits at these.
  for (const separator of ["\n", "\r", "\u2028", "\u2029", "\u0085"]) {
    assert.equal(line.includes(separator), false, JSON.stringify(separator));
  }
  assert.deepEqual(JSON.parse(line), event);
});
