import assert from "node:assert/strict";
import { statusOf, textOf } from "../../src/client/text_output.ts";
import { isFailure } from "../../src/client/session_events.ts";

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
