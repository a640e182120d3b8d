import assert from "node:assert/strict";
import {
  asRegistered,
  clockPrefix,
  formatProgress,
  formatTimestamp,
  formatTransferDone,
  leftOut,
  renderDeclined,
  renderSent,
  renderSentFile,
  renderServerMessage,
  type Style,
} from "../../src/client/render.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";

// deno-lint-ignore no-control-regex -- matching escape sequences is the point
const SGR = /\x1b\[[0-9;]*m/g;

function stripSgr(line: string): string {
  return line.replaceAll(SGR, "");
}

const plain: Style = { color: false };
const color: Style = { color: true };

/** 2024-07-21 11:55:33 local time, whatever the test machine's zone. */
const JULY_21 = new Date(2024, 6, 21, 11, 55, 33).getTime();

const HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202Eevil\u200B";
const HOSTILE_SHOWN = "^[]0;pwned^G^[[2J<U+009B>31m<U+202E>evil<U+200B>";

function one(msg: ServerMessage, body = "", style = plain): string {
  const lines = renderServerMessage(msg, body, style);
  assert.equal(lines.length, 1);
  return lines[0]!;
}

/** One of every server message, with hostile text wherever text can go. */
const EVERY: [ServerMessage, string][] = [
  [{ t: "welcome", re: 1, name: HOSTILE, text: HOSTILE }, ""],
  [{ t: "ok", re: 1, text: HOSTILE }, ""],
  [{ t: "error", re: null, code: "internal", text: HOSTILE }, ""],
  [{ t: "public", from: HOSTILE, ts: 0 }, HOSTILE],
  [{ t: "private", from: HOSTILE, ts: 0 }, HOSTILE],
  [{ t: "group", group: HOSTILE, from: HOSTILE, ts: 0 }, HOSTILE],
  [{
    t: "users",
    re: 1,
    users: [{ name: HOSTILE, lastMessageAt: JULY_21 }, {
      name: HOSTILE,
      lastMessageAt: null,
    }],
  }, ""],
  [{ t: "groups", re: 1, groups: [{ name: HOSTILE, members: 2 }] }, ""],
  [{
    t: "members",
    re: 1,
    groups: [{ group: HOSTILE, members: [HOSTILE, "x"], online: ["x"] }],
  }, ""],
  [{ t: "presence", name: HOSTILE, online: true }, ""],
  [{ t: "membership", group: HOSTILE, name: HOSTILE, joined: false }, ""],
  [{ t: "bye", reason: "violation", text: HOSTILE }, ""],
];

Deno.test("renderServerMessage shows a public message in the seed's words", () => {
  assert.equal(
    one({ t: "public", from: "nana", ts: JULY_21 }, "hi"),
    "[Broadcast from nana]: hi",
  );
});

Deno.test("renderServerMessage shows a private message in the seed's words", () => {
  assert.equal(
    one({ t: "private", from: "sophia", ts: JULY_21 }, "How are you?"),
    "Private message from sophia: How are you?",
  );
});

Deno.test("renderServerMessage rings the bell on a private message when asked", () => {
  const msg: ServerMessage = { t: "private", from: "sophia", ts: 0 };
  assert.equal(
    one(msg, "hi", { color: false, bell: true }),
    "Private message from sophia: hi\x07",
  );
  assert.equal(one(msg, "hi", { color: false, bell: false }), one(msg, "hi"));
  assert.ok(
    !one({ t: "public", from: "a", ts: 0 }, "hi", { color: false, bell: true })
      .includes("\x07"),
  );
});

Deno.test("renderServerMessage shows a group message in the seed's words", () => {
  assert.equal(
    one({ t: "group", group: "haha", from: "jojo", ts: 0 }, "Hello there!"),
    "[Receive group haha message from jojo]: Hello there!",
  );
});

Deno.test("renderServerMessage shows the text of welcome, ok, error and bye", () => {
  assert.equal(
    one({
      t: "welcome",
      re: 1,
      name: "sophia",
      text: "SUCCESS: Username registered.",
    }),
    "SUCCESS: Username registered.",
  );
  assert.equal(
    one({ t: "ok", re: 2, text: "SUCCESS: Group 'haha' created and joined." }),
    "SUCCESS: Group 'haha' created and joined.",
  );
  assert.equal(
    one({
      t: "error",
      re: 3,
      code: "no_such_group",
      text: "ERROR: Group 'nanana' does not exist.",
    }),
    "ERROR: Group 'nanana' does not exist.",
  );
  assert.equal(
    one({ t: "bye", reason: "shutdown", text: "Server is shutting down" }),
    "Server is shutting down",
  );
});

Deno.test("renderServerMessage lists users with their last message time", () => {
  assert.deepEqual(
    renderServerMessage(
      {
        t: "users",
        re: 1,
        users: [
          { name: "nana", lastMessageAt: JULY_21 },
          { name: "jojo", lastMessageAt: null },
        ],
      },
      "",
      plain,
    ),
    [
      "*** jojo - Last Message: never ***",
      "*** nana - Last Message: 2024-07-21 11:55:33 ***",
    ],
  );
  assert.deepEqual(
    renderServerMessage({ t: "users", re: 1, users: [] }, "", plain),
    ["No users online"],
  );
});

// Seen after reconnections: the server lists users in the order they
// signed in, so /list changed order each time.
Deno.test("renderServerMessage lists users by name, case aside, keeping their away marks", () => {
  assert.deepEqual(
    renderServerMessage(
      {
        t: "users",
        re: 1,
        users: [
          { name: "zed", lastMessageAt: null },
          { name: "Bob", lastMessageAt: null, away: "lunch" },
          { name: "alice", lastMessageAt: null },
          { name: "bob2", lastMessageAt: null },
        ],
      },
      "",
      plain,
    ),
    [
      "*** alice - Last Message: never ***",
      "*** Bob - Last Message: never - away: lunch ***",
      "*** bob2 - Last Message: never ***",
      "*** zed - Last Message: never ***",
    ],
  );
});

Deno.test("renderServerMessage counts the users and groups a list left out, one in the singular", () => {
  const users = [{ name: "nana", lastMessageAt: null }];
  assert.deepEqual(
    renderServerMessage({ t: "users", re: 1, users, more: 1 }, "", plain),
    ["*** nana - Last Message: never ***", "... and 1 more user"],
  );
  assert.deepEqual(
    renderServerMessage({ t: "users", re: 1, users, more: 12 }, "", plain),
    ["*** nana - Last Message: never ***", "... and 12 more users"],
  );
  const groups = [{ name: "haha", members: 2 }];
  assert.deepEqual(
    renderServerMessage({ t: "groups", re: 1, groups, more: 1 }, "", plain),
    ["Groups: haha (2 members)", "... and 1 more group"],
  );
  assert.deepEqual(
    renderServerMessage({ t: "groups", re: 1, groups, more: 3 }, "", plain),
    ["Groups: haha (2 members)", "... and 3 more groups"],
  );
  assert.equal(leftOut(1, "user"), "... and 1 more user");
});

Deno.test("renderServerMessage lists users, groups and members in natural order", () => {
  const users = ["bot10", "Bot3", "bot2", "alice"].map((name) => ({
    name,
    lastMessageAt: null,
  }));
  assert.deepEqual(
    renderServerMessage({ t: "users", re: 1, users }, "", plain),
    ["alice", "bot2", "Bot3", "bot10"].map((name) =>
      `*** ${name} - Last Message: never ***`
    ),
  );
  assert.equal(
    one({
      t: "groups",
      re: 1,
      groups: [{ name: "room10", members: 1 }, { name: "room9", members: 1 }],
    }),
    "Groups: room9 (1 member), room10 (1 member)",
  );
  assert.equal(
    one({
      t: "members",
      re: 1,
      groups: [{
        group: "lab",
        members: ["bot10", "bot9"],
        online: ["bot10", "bot9"],
      }],
    }),
    "Members of lab: bot9, bot10",
  );
});

Deno.test("renderServerMessage lists groups with member counts", () => {
  assert.equal(
    one({
      t: "groups",
      re: 1,
      groups: [{ name: "haha", members: 2 }, { name: "team", members: 1 }],
    }),
    "Groups: haha (2 members), team (1 member)",
  );
  assert.equal(
    one({ t: "groups", re: 1, groups: [] }),
    "No groups yet. Create one with /create <groupname>",
  );
});

Deno.test("renderServerMessage lists members per group and marks offline ones", () => {
  assert.deepEqual(
    renderServerMessage(
      {
        t: "members",
        re: 1,
        groups: [
          {
            group: "haha",
            members: ["jojo", "sophia", "nana"],
            online: ["sophia", "jojo"],
          },
          { group: "team", members: ["jojo"], online: ["jojo"] },
          { group: "empty", members: [], online: [] },
        ],
      },
      "",
      plain,
    ),
    [
      "Members of empty: (none)",
      "Members of haha: jojo, nana (offline), sophia",
      "Members of team: jojo",
    ],
  );
  assert.equal(
    one({ t: "members", re: 1, groups: [] }),
    "You are not in any group. Join one with /join <groupname>",
  );
});

Deno.test("renderServerMessage announces presence and membership", () => {
  assert.equal(
    one({ t: "presence", name: "nana", online: true }),
    "*** nana joined the chat ***",
  );
  assert.equal(
    one({ t: "presence", name: "nana", online: false }),
    "*** nana left the chat ***",
  );
  assert.equal(
    one({ t: "membership", group: "haha", name: "jojo", joined: true }),
    "*** jojo joined group haha ***",
  );
  assert.equal(
    one({ t: "membership", group: "haha", name: "jojo", joined: false }),
    "*** jojo left group haha ***",
  );
});

Deno.test("renderServerMessage sanitises every string from the network", () => {
  for (const style of [plain, color]) {
    for (const [msg, body] of EVERY) {
      for (const line of renderServerMessage(msg, body, style)) {
        assert.ok(!line.includes("\x07") || msg.t === "private", msg.t);
        assert.ok(!line.includes("\x9b"), msg.t);
        assert.ok(!line.includes("\u202E"), msg.t);
        assert.ok(line.includes(HOSTILE_SHOWN), msg.t);
        if (!style.color) assert.ok(!line.includes("\x1b"), msg.t);
      }
    }
  }
  assert.equal(
    one({ t: "public", from: "nana", ts: 0 }, HOSTILE),
    `[Broadcast from nana]: ${HOSTILE_SHOWN}`,
  );
});

Deno.test("renderServerMessage colours names and errors only when asked", () => {
  const error = one(
    { t: "error", re: 1, code: "empty", text: "ERROR: Empty" },
    "",
    color,
  );
  assert.equal(error, "\x1b[31mERROR: Empty\x1b[0m");
  const priv = one({ t: "private", from: "sophia", ts: 0 }, "hi", color);
  assert.ok(priv.includes("\x1b[35m"));
  assert.equal(
    // Removing the SGR sequences leaves exactly the plain line.
    stripSgr(priv),
    "Private message from sophia: hi",
  );
  for (const [msg, body] of EVERY) {
    for (const [i, line] of renderServerMessage(msg, body, color).entries()) {
      assert.equal(
        stripSgr(line),
        renderServerMessage(msg, body, plain)[i],
      );
    }
  }
});

Deno.test("renderSent confirms what the user sent in the seed's words", () => {
  assert.deepEqual(renderSent({ kind: "say", text: "hi" }, plain), [
    "Broadcast message sent: hi",
  ]);
  assert.deepEqual(
    renderSent({ kind: "msg", to: "jojo", text: "How are you?" }, plain),
    ["Private message to jojo: How are you?"],
  );
  assert.deepEqual(
    renderSent({ kind: "gsay", group: "haha", text: "Hello there!" }, plain),
    ["Group message to haha: Hello there!"],
  );
});

Deno.test("renderSent sanitises and colours only when asked", () => {
  assert.deepEqual(renderSent({ kind: "say", text: HOSTILE }, plain), [
    `Broadcast message sent: ${HOSTILE_SHOWN}`,
  ]);
  const [line] = renderSent({ kind: "gsay", group: "haha", text: "x" }, color);
  assert.ok(line!.includes("\x1b["));
  assert.equal(
    stripSgr(line!),
    "Group message to haha: x",
  );
});

Deno.test("formatTimestamp uses local YYYY-MM-DD HH:MM:SS", () => {
  assert.equal(formatTimestamp(JULY_21), "2024-07-21 11:55:33");
  assert.equal(
    formatTimestamp(new Date(2025, 0, 2, 3, 4, 5).getTime()),
    "2025-01-02 03:04:05",
  );
  assert.equal(formatTimestamp(Number.NaN), "unknown");
  assert.equal(formatTimestamp(1e20), "unknown");
});

Deno.test("renderDeclined names who did not take a file and why", () => {
  assert.equal(
    renderDeclined({ name: "jojo", reason: "declined" }, "big.bin"),
    "jojo declined big.bin.",
  );
  assert.equal(
    renderDeclined({ name: "nana", reason: "did not answer" }, "big.bin"),
    "nana did not answer about big.bin.",
  );
  assert.equal(
    renderDeclined({ name: "ana", reason: "disk\x1b[2J full" }, "big.bin"),
    "big.bin was not sent to ana: disk^[[2J full",
  );
});

Deno.test("renderServerMessage shows /me bodies as actions in every conversation", () => {
  const plain = { color: false };
  assert.deepEqual(
    renderServerMessage(
      { t: "public", from: "jojo", ts: 0 },
      "/me waves",
      plain,
    ),
    ["* jojo waves"],
  );
  assert.deepEqual(
    renderServerMessage(
      { t: "private", from: "jojo", ts: 0 },
      "/me waves",
      plain,
    ),
    ["Private: * jojo waves"],
  );
  assert.deepEqual(
    renderServerMessage(
      { t: "group", group: "haha", from: "jojo", ts: 0 },
      "/me laughs",
      plain,
    ),
    ["[haha] * jojo laughs"],
  );
  assert.deepEqual(
    renderSent({ kind: "say", text: "/me waves" }, {
      color: false,
      self: "sophia",
    }),
    ["Action sent: * sophia waves"],
  );
});

Deno.test("renderServerMessage highlights mentions of the reader and rings for live ones", () => {
  const style = { color: true, bell: true, self: "sophia" };
  const [live] = renderServerMessage(
    { t: "public", from: "jojo", ts: 0 },
    "hi @sophia\x1b[2J",
    style,
  );
  assert.ok(live!.includes("\x1b[1;7m@sophia\x1b[0m"));
  assert.ok(live!.includes("^[[2J"), "the text is sanitised");
  assert.ok(live!.endsWith("\x07"));
  const [past] = renderServerMessage(
    { t: "public", from: "jojo", ts: 0, history: true },
    "hi @sophia",
    style,
  );
  assert.ok(!past!.endsWith("\x07"));
  const [other] = renderServerMessage(
    { t: "public", from: "jojo", ts: 0 },
    "hi @nana",
    style,
  );
  assert.ok(!other!.includes("\x07") && !other!.includes("\x1b[1;7m"));
});

Deno.test("renderServerMessage shows an away reason in /list, made safe", () => {
  assert.deepEqual(
    renderServerMessage(
      {
        t: "users",
        re: 1,
        users: [{ name: "jojo", lastMessageAt: null, away: "lunch\x1b[31m" }],
      },
      "",
      { color: false },
    ),
    ["*** jojo - Last Message: never - away: lunch^[[31m ***"],
  );
});

Deno.test("clockPrefix shows local hours and minutes, or dashes for a bad time", () => {
  const at = new Date(2026, 0, 2, 9, 5).getTime();
  assert.equal(clockPrefix(at), "[09:05] ");
  assert.equal(clockPrefix(Number.NaN), "[--:--] ");
});

// Seen on the web page: a 1.2 KiB file's bar ended as "notes.txt from termy
// 1.2 KiB/1.2 KiB 100% 0 B/s", the file through before a millisecond passed.
Deno.test("formatProgress leaves out the rate until time has been measured, and gives it after", () => {
  assert.equal(
    formatProgress("notes.txt from termy", 1229, 1229, 0),
    "notes.txt from termy 1.2 KiB/1.2 KiB 100%",
  );
  assert.equal(
    formatProgress("big.bin to jojo", 1024 * 1024, 4 * 1024 * 1024, 1000),
    "big.bin to jojo 1.0 MiB/4.0 MiB 25% 1.0 MiB/s 3s left",
  );
});

Deno.test("formatProgress measures the rate over the bytes moved since `from`, not a resumed file's first part", () => {
  const MIB = 1024 * 1024;
  assert.equal(
    formatProgress("big.bin from sophia", 60 * MIB, 100 * MIB, 1000, 50 * MIB),
    "big.bin from sophia 60.0 MiB/100.0 MiB 60% 10.0 MiB/s 4s left",
  );
});

Deno.test("formatTransferDone says the file is through, in the terminal's words, without speed or time left", () => {
  assert.equal(
    formatTransferDone("hi.txt from termy", 2, "received"),
    "hi.txt from termy: 2 B received",
  );
  assert.equal(
    formatTransferDone("notes.txt to jojo", 1229, "sent"),
    "notes.txt to jojo: 1.2 KiB sent",
  );
  // The label holds network names and file names: made safe as a row is.
  assert.equal(
    formatTransferDone("a\nb from x", 0, "received"),
    "a^Jb from x: 0 B received",
  );
});

Deno.test("renderSentFile says nothing more of a file this user's /cancel stopped, which said so itself", () => {
  const results = [
    { name: "jojo", ok: false, reason: "you cancelled it" },
    { name: "nana", ok: false, reason: "declined" },
  ];
  const outcome = {
    kind: "cancelled" as const,
    name: "big.bin",
    reason: "you cancelled it",
    results,
  };
  // Only the recipient that had already said no, not an error for the cancel.
  assert.deepEqual(
    renderSentFile({ ...outcome, byYou: true }, { group: "team" }),
    ["ERROR: File big.bin was not received by nana: declined"],
  );
  // Stopped by anything else: said as an error.
  assert.deepEqual(
    renderSentFile(
      { ...outcome, reason: "the connection to the server was closed." },
      { group: "team" },
    ),
    [
      "ERROR: Sending file big.bin stopped: the connection to the server was closed.",
      "ERROR: File big.bin was not received by jojo: you cancelled it",
      "ERROR: File big.bin was not received by nana: declined",
    ],
  );
});

Deno.test("asRegistered names the recipient or group as the server's ok spells it, and only the one typed", () => {
  const msg = { kind: "msg" as const, to: "NANA", text: "nihao" };
  const gsay = { kind: "gsay" as const, group: "HAHA", text: "hi" };
  assert.deepEqual(asRegistered(msg, "nana"), { ...msg, to: "nana" });
  assert.deepEqual(asRegistered(gsay, "haha"), { ...gsay, group: "haha" });
  // An older server says nothing: as typed.
  assert.deepEqual(asRegistered(msg, undefined), msg);
  // A server cannot make it read as sent to someone else.
  assert.deepEqual(asRegistered(msg, "mallory"), msg);
  assert.deepEqual(asRegistered(gsay, "other"), gsay);
});

Deno.test("renderServerMessage and renderSent keep a message's line breaks only when the style does, each line made safe", () => {
  const msg: ServerMessage = { t: "public", from: "alice", ts: JULY_21 };
  const text = "one\r\n\x1b[2Jtwo\n\u202Ethree";
  const breaks: Style = { color: false, lineBreaks: true };
  assert.deepEqual(renderServerMessage(msg, text, breaks), [
    "[Broadcast from alice]: one\n^[[2Jtwo\n<U+202E>three",
  ]);
  // A terminal's line stays one line: the breaks show.
  assert.deepEqual(renderServerMessage(msg, text, plain), [
    "[Broadcast from alice]: one^M^J^[[2Jtwo^J<U+202E>three",
  ]);
  assert.deepEqual(
    renderSent({ kind: "msg", to: "bob", text: "a\nb" }, breaks),
    ["Private message to bob: a\nb"],
  );
  assert.deepEqual(
    renderSent({ kind: "say", text: "/me waves\nand smiles" }, {
      ...breaks,
      self: "alice",
    }),
    ["Action sent: * alice waves\nand smiles"],
  );
});

Deno.test("renderSentFile says a file that shrank after it was all read got shorter, with both sizes, as it says of one that grew", () => {
  const finished = {
    kind: "finished" as const,
    name: "notes.bin",
    size: 64 * 1024,
    results: [{ name: "jojo", ok: true, reason: "" }],
  };
  assert.deepEqual(
    renderSentFile({ ...finished, sizeNow: 10 * 1024 }, { to: "jojo" }),
    [
      "File notes.bin sent to jojo successfully.",
      "notes.bin got shorter while it was being sent, after all of it was read: jojo got all 64.0 KiB (its size when offered); it is 10.0 KiB now.",
    ],
  );
  assert.deepEqual(
    renderSentFile({ ...finished, sizeNow: 128 * 1024 }, { group: "team" }),
    [
      "File notes.bin sent to group team: received by jojo.",
      "notes.bin changed while it was being sent: they got the first 64.0 KiB (its size when offered); it is 128.0 KiB now.",
    ],
  );
});

Deno.test("renderServerMessage shows one's own public and group lines in history as their sending was, others' as received", () => {
  const style = { color: false, self: "carol" };
  const at = Date.UTC(2026, 11, 6, 14, 2);
  const own = (msg: ServerMessage, text: string) =>
    renderServerMessage(msg, text, style)[0]!.replace(/^\[[^\]]*\] /, "");
  // Before: "[Broadcast from carol]: hi" where the live echo had said
  // "Broadcast message sent: hi".
  assert.equal(
    own({ t: "public", from: "carol", ts: at, history: true }, "hi"),
    "Broadcast message sent: hi",
  );
  assert.equal(
    own({ t: "public", from: "Carol", ts: at, history: true }, "/me waves"),
    "Action sent: * carol waves",
  );
  assert.equal(
    own(
      { t: "group", group: "team", from: "carol", ts: at, history: true },
      "hi all",
    ),
    renderSent({ kind: "gsay", group: "team", text: "hi all" }, style)[0],
  );
  // Someone else's line, and a live one, read as received.
  assert.equal(
    own({ t: "public", from: "jojo", ts: at, history: true }, "hi"),
    "[Broadcast from jojo]: hi",
  );
  assert.deepEqual(
    renderServerMessage({ t: "public", from: "carol", ts: at }, "hi", style),
    ["[Broadcast from carol]: hi"],
  );
});

Deno.test("renderServerMessage shows a released name's lines up to ownAfter, another key's, as received, and the reader's after it as their own", () => {
  const style = { color: false, self: "carol", ownAfter: 41 };
  const at = Date.UTC(2026, 11, 6, 14, 2);
  const shown = (msg: ServerMessage, text: string) =>
    renderServerMessage(msg, text, style)[0]!.replace(/^\[[^\]]*\] /, "");
  const from = { from: "carol", ts: at, history: true } as const;
  assert.equal(
    shown({ t: "public", ...from, id: 41, seq: 41 }, "hi"),
    "[Broadcast from carol]: hi",
  );
  assert.equal(
    shown({ t: "group", group: "team", ...from, id: 40, seq: 7 }, "hi all"),
    "[Receive group team message from carol]: hi all",
  );
  assert.equal(
    shown({ t: "private", ...from, id: 39, seq: 3, to: "jojo" }, "psst"),
    "Private message from carol to jojo: psst",
  );
  // Without an id there is nothing to place it by: not the reader's.
  assert.equal(
    shown({ t: "public", ...from }, "hi"),
    "[Broadcast from carol]: hi",
  );
  assert.equal(
    shown({ t: "public", ...from, id: 42, seq: 42 }, "hi"),
    "Broadcast message sent: hi",
  );
  assert.equal(
    shown({ t: "private", ...from, id: 43, seq: 4, to: "jojo" }, "psst"),
    "Private message to jojo: psst",
  );
});
