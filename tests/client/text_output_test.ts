import assert from "node:assert/strict";
import {
  MAX_BREAK_INDENT,
  statusOf,
  textOf,
} from "../../src/client/text_output.ts";
import { MAX_MESSAGE_LINES } from "../../src/client/render.ts";
import { hangingRows } from "../../src/client/input_block.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import {
  isFailure,
  type SessionEvent,
} from "../../src/client/session_events.ts";
import { terminalHelp } from "../../src/client/commands.ts";

const plain = { color: false };

Deno.test("textOf shows a sent message in the seed's words, with the server's note, as output", () => {
  assert.deepEqual(
    textOf({
      type: "reply",
      re: 1,
      command: { kind: "msg", to: "jojo", text: "hi" },
      reply: { t: "ok", re: 4, text: "jojo is offline; they get it later" },
    }, plain),
    {
      lines: [
        "Private message to jojo: hi",
        "jojo is offline; they get it later",
      ],
      error: false,
    },
  );
});

Deno.test("textOf marks error replies, usage errors and failed files as errors (stderr for a script)", () => {
  const reply = {
    type: "reply",
    re: 1,
    command: { kind: "msg", to: "nobody", text: "hi" },
    reply: {
      t: "error",
      re: 4,
      code: "no_such_user",
      text: "ERROR: User 'nobody' is not online.",
    },
  } as const;
  assert.deepEqual(textOf(reply, plain), {
    lines: ["ERROR: User 'nobody' is not online."],
    error: true,
  });
  assert.equal(isFailure(reply), true);
  const usage = {
    type: "error",
    re: 2,
    code: "usage",
    text: "Usage: /msg <username> <message>",
  } as const;
  assert.deepEqual(textOf(usage, plain).error, true);
  assert.equal(isFailure(usage), true);
  const refused = {
    type: "file_sent",
    re: 3,
    target: { to: "jojo" },
    outcome: { kind: "refused", text: 'ERROR: File "x" not found' },
  } as const;
  assert.deepEqual(textOf(refused, plain), {
    lines: ['ERROR: File "x" not found'],
    error: true,
  });
  assert.equal(isFailure(refused), true);
});

Deno.test("isFailure: an error no command caused, and everything else, is not a failed command", () => {
  assert.equal(
    isFailure({ type: "error", re: null, code: "connection", text: "x" }),
    false,
  );
  assert.equal(isFailure({ type: "notice", text: "x" }), false);
  assert.equal(isFailure({ type: "queued", re: 1, line: "x" }), false);
  assert.equal(
    isFailure({
      type: "file_sent",
      re: 1,
      target: { group: "g" },
      outcome: {
        kind: "finished",
        name: "a",
        size: 1,
        results: [{ name: "jojo", ok: true, reason: "" }, {
          name: "nana",
          ok: false,
          reason: "disk full",
        }],
      },
    }),
    true,
    "one recipient failed",
  );
});

Deno.test("textOf marks a queued line; statusOf gives the reconnect and progress rows", () => {
  assert.deepEqual(textOf({ type: "queued", re: 1, line: "hi" }, plain), {
    lines: ["(queued) hi"],
    error: false,
  });
  assert.equal(
    statusOf({
      type: "connection",
      state: { kind: "connecting", attempt: 2, lastError: null },
      queued: 0,
    }, 0),
    "Reconnecting (attempt 2)...",
  );
  assert.match(
    statusOf({
      type: "file_progress",
      direction: "out",
      name: "big.bin",
      peer: "jojo",
      bytes: 512,
      size: 1024,
      elapsedMs: 1000,
      fromBytes: 0,
    }, 0)!,
    /^big\.bin to jojo 512 B\/1\.0 KiB 50% /,
  );
  assert.equal(statusOf({ type: "notice", text: "x" }, 0), null);
});

Deno.test("textOf shows a notice that answers a command as the bare line: its re is for --json only", () => {
  assert.deepEqual(
    textOf({ type: "notice", re: 3, text: "No file transfers." }, plain),
    { lines: ["No file transfers."], error: false },
  );
  assert.equal(isFailure({ type: "notice", re: 3, text: "x" }), false);
});

Deno.test("textOf sets a message's further lines in under its text on a terminal, each made safe, at most MAX_MESSAGE_LINES", () => {
  const terminal = {
    color: false,
    lineBreaks: true,
    terminalBreaks: true,
    clock: true,
  };
  const incoming = (message: ServerMessage, text: string) =>
    textOf({ type: "incoming", message, text }, terminal).lines;
  const ts = new Date(2026, 6, 21, 9, 5).getTime();
  assert.deepEqual(
    incoming(
      { t: "public", from: "nana", ts },
      "one\r\n\x1b[2Jtwo\n\u202Ethree",
    ),
    [
      "[09:05] [Broadcast from nana]: one\n" +
      `${" ".repeat(31)}^[[2Jtwo\n${" ".repeat(31)}<U+202E>three`,
    ],
  );
  // An action: under the text after the name.
  assert.deepEqual(
    incoming({ t: "group", from: "nana", group: "team", ts }, "/me waves\nok"),
    [`[09:05] [team] * nana waves\n${" ".repeat(22)}ok`],
  );
  // Set in no further than MAX_BREAK_INDENT, history too.
  const past = incoming(
    { t: "private", from: "nana", to: "bo", ts, history: true },
    "a\nb",
  )[0]!;
  assert.match(
    past,
    /^\[history [0-9: -]+\] Private message from nana to bo: a\n/,
  );
  assert.equal(past.split("\n")[1], `${" ".repeat(MAX_BREAK_INDENT)}b`);
  // 500 lines show as MAX_MESSAGE_LINES: the first ones, then a count.
  const flood = incoming(
    { t: "public", from: "nana", ts },
    Array.from({ length: 500 }, (_, i) => String(i)).join("\n"),
  )[0]!.split("\n");
  assert.equal(flood.length, MAX_MESSAGE_LINES);
  assert.equal(flood[1], `${" ".repeat(31)}1`);
  assert.equal(
    flood.at(-1),
    `${" ".repeat(31)}(... ${500 - MAX_MESSAGE_LINES + 1} more lines)`,
  );
  // One's own confirmation too; a message of one line is as it was.
  assert.deepEqual(
    textOf({
      type: "reply",
      re: 1,
      command: { kind: "say", text: "x\ny" },
      reply: { t: "ok", re: 4, text: "" },
    }, terminal).lines,
    [`Broadcast message sent: x\n${" ".repeat(24)}y`],
  );
  assert.deepEqual(incoming({ t: "public", from: "nana", ts }, "hi"), [
    "[09:05] [Broadcast from nana]: hi",
  ]);
  // The web page's style keeps the breaks without spaces (its rows indent).
  assert.deepEqual(
    textOf({
      type: "incoming",
      message: { t: "public", from: "nana", ts },
      text: "a\nb",
    }, { color: false, lineBreaks: true }).lines,
    ["[Broadcast from nana]: a\nb"],
  );
});

Deno.test("textOf cuts a message of long lines to MAX_MESSAGE_LINES rows at the terminal's width, and says how many lines more", () => {
  const style = {
    color: false,
    lineBreaks: true,
    terminalBreaks: true,
    clock: true,
  };
  const ts = new Date(2026, 6, 21, 9, 5).getTime();
  const body = Array.from(
    { length: 10 },
    (_, i) => `${i} ${"word ".repeat(60)}`,
  ).join("\n");
  const event = {
    type: "incoming" as const,
    message: { t: "public" as const, from: "nana", ts },
    text: body,
  };
  const [line] = textOf(event, style, 100).lines;
  const rows = hangingRows(line!, 100).split("\n");
  assert.ok(rows.length <= MAX_MESSAGE_LINES, rows.join("\n"));
  const lines = line!.split("\n");
  assert.match(lines[0]!, /^\[09:05\] \[Broadcast from nana\]: 0 word/);
  assert.match(lines[1]!, /^ {31}1 word/);
  assert.equal(
    lines.at(-1),
    `${" ".repeat(31)}(... ${10 - (lines.length - 1)} more lines)`,
  );
  // Wide enough, or with no width known, all ten lines show.
  assert.equal(textOf(event, style, 10_000).lines[0]!.split("\n").length, 10);
  assert.equal(textOf(event, style).lines[0]!.split("\n").length, 10);
  // A single line, however long, is the line cap's business, not this one.
  const one = textOf({ ...event, text: "word ".repeat(500) }, style, 100);
  assert.equal(one.lines[0]!.split("\n").length, 1);
  // Past the line cap too: the count covers the lines render.ts left out.
  const many = Array.from({ length: 50 }, (_, i) => `${i} ${"w ".repeat(150)}`)
    .join("\n");
  const cut = textOf({ ...event, text: many }, style, 100).lines[0]!.split(
    "\n",
  );
  assert.equal(
    cut.at(-1),
    `${" ".repeat(31)}(... ${51 - cut.length} more lines)`,
  );
  assert.ok(hangingRows(cut.join("\n"), 100).split("\n").length <= 10);
});

Deno.test("textOf lays /help out at a narrow terminal's width, one command a row in order, and keeps it at 80 columns and wider", () => {
  const event = { type: "help" as const, re: 1, lines: terminalHelp() };
  const narrow = textOf(event, plain, 40).lines;
  const commands = narrow.filter((line) => line.startsWith("  /"));
  // Two columns of 75 characters wrapped at 40 read /msg, /transfers, ...
  assert.ok(commands.every((line) => line.length <= 40), commands.join("\n"));
  assert.equal(commands[0], "  /msg <username> <message>");
  assert.equal(commands[1], "  /group <groupname> <message>");
  assert.equal(commands.at(-1), "  /quit");
  assert.deepEqual(textOf(event, plain, 80).lines, event.lines);
  assert.deepEqual(textOf(event, plain, 200).lines, event.lines);
  assert.deepEqual(textOf(event, plain).lines, event.lines);
  const topic = {
    type: "help" as const,
    re: 1,
    lines: terminalHelp("trust"),
    topic: "trust",
  };
  assert.ok(textOf(topic, plain, 30).lines.every((line) => line.length <= 30));
  assert.equal(textOf(topic, plain, 30).lines[0], "Usage: /trust <username>");
});

Deno.test("textOf marks a file's name and recipient only where the style isolates them (the web page)", () => {
  const offering = {
    type: "file_offering",
    re: 0,
    name: "דוח!",
    size: 14,
    target: { to: "jojo" },
  } as const;
  assert.deepEqual(textOf(offering, plain).lines, [
    "Offering דוח! (14 B) to jojo; waiting for an answer.",
  ]);
  assert.deepEqual(textOf(offering, { ...plain, isolate: true }).lines, [
    "Offering \u2068דוח!\u2069 (14 B) to \u2068jojo\u2069; waiting for an answer.",
  ]);
  const declined = {
    type: "file_declined",
    re: 0,
    file: "דוח!",
    declined: { name: "jojo", reason: "declined" },
  } as const;
  assert.deepEqual(textOf(declined, plain).lines, ["jojo declined דוח!."]);
  assert.deepEqual(textOf(declined, { ...plain, isolate: true }).lines, [
    "\u2068jojo\u2069 declined \u2068דוח!\u2069.",
  ]);
  // The reason a recipient gave (file_cancel: their words) is a run of
  // its own too, as the names around it; the terminal's line as before.
  const refused = {
    ...declined,
    declined: { name: "jojo", reason: "no space left (3 GB!)" },
  } as const;
  assert.deepEqual(textOf(refused, plain).lines, [
    "דוח! was not sent to jojo: no space left (3 GB!)",
  ]);
  assert.deepEqual(textOf(refused, { ...plain, isolate: true }).lines, [
    "\u2068דוח!\u2069 was not sent to \u2068jojo\u2069: \u2068no space left (3 GB!)\u2069",
  ]);
  // A notice the page marked shows without its marks elsewhere; one not
  // marked keeps any FSI in it (made safe where it is shown).
  const notice = {
    type: "notice",
    text: "Resuming \u2068a\u2069 to b",
  } as const;
  assert.deepEqual(textOf({ ...notice, marked: true }, plain).lines, [
    "Resuming a to b",
  ]);
  assert.deepEqual(textOf(notice, plain).lines, [notice.text]);
});

Deno.test("textOf marks a sent file's name and recipients, and a marked error's parts, only where the style isolates them (the web page)", () => {
  const sent: SessionEvent = {
    type: "file_sent",
    re: 0,
    target: { group: "צוות" },
    outcome: {
      kind: "finished",
      name: "דוח!",
      size: 14,
      results: [
        { name: "jojo", ok: true, reason: "" },
        { name: "bob", ok: false, reason: "disk full" },
      ],
    },
  };
  // The terminal's lines, byte for byte as before.
  assert.deepEqual(textOf(sent, plain).lines, [
    "File דוח! sent to group צוות: received by jojo.",
    "ERROR: File דוח! was not received by bob: disk full",
  ]);
  assert.deepEqual(textOf(sent, { ...plain, isolate: true }).lines, [
    "File \u2068דוח!\u2069 sent to group \u2068צוות\u2069: received by \u2068jojo\u2069.",
    "ERROR: File \u2068דוח!\u2069 was not received by \u2068bob\u2069: \u2068disk full\u2069",
  ]);
  // An error the page marked: its marks kept where the style isolates
  // them, dropped elsewhere; the text between them made safe either way.
  const error = {
    type: "error",
    re: null,
    code: "file",
    text: "ERROR: Gave up offering \u2068דוח!\u2069 again:\x1b[31m",
    marked: true,
  } as const;
  assert.deepEqual(textOf(error, { ...plain, isolate: true }), {
    lines: ["ERROR: Gave up offering \u2068דוח!\u2069 again:^[[31m"],
    error: true,
  });
  assert.deepEqual(textOf(error, plain).lines, [
    "ERROR: Gave up offering דוח! again:^[[31m",
  ]);
  // Not marked: a mark in it shows as text, as before.
  const { marked: _, ...unmarked } = error;
  assert.deepEqual(textOf(unmarked, { ...plain, isolate: true }).lines, [
    "ERROR: Gave up offering <U+2068>דוח!<U+2069> again:^[[31m",
  ]);
});

Deno.test("textOf says nothing of a file's outcome while it is to be offered again, nor once /cancel stopped it, and says it when the session ends first", () => {
  const cut = {
    type: "file_sent",
    re: 3,
    target: { to: "jojo" },
    outcome: {
      kind: "refused",
      text: "ERROR: Not sent: the connection to the server was lost.",
      code: "internal",
    },
  } as const;
  // Not final: the notice that follows says it is not sent yet.
  assert.deepEqual(textOf({ ...cut, again: true }, plain), {
    lines: [],
    error: false,
  });
  // Stopped by /cancel, which said "Cancelled sending ..." then.
  assert.deepEqual(textOf({ ...cut, held: "cancelled" }, plain).lines, []);
  // Final: not offered again, the session ended.
  assert.deepEqual(textOf({ ...cut, held: "ended" }, plain), {
    lines: ["ERROR: Not sent: the connection to the server was lost."],
    error: true,
  });
});
