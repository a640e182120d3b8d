import assert from "node:assert/strict";
import { marked, runsOf, safeMarked } from "../../src/web/bidi_runs.ts";
import { renderSent, renderServerMessage } from "../../src/client/render.ts";

const ISOLATE = { color: false, lineBreaks: true, isolate: true } as const;

/** `line` as the page's log builds it (main.ts emit, log_view.ts). */
function rowOf(line: string): string {
  return runsOf(safeMarked(line)).map((run) =>
    run.isolated ? `<${run.text}>` : run.text
  ).join("");
}

Deno.test("runsOf makes the sender's name and the text of a public message runs of their own, the wording not", () => {
  const [line] = renderServerMessage(
    { t: "public", from: "nana", ts: 0 },
    "שלום לכולם!",
    ISOLATE,
  );
  assert.equal(rowOf(line!), "[Broadcast from <nana>]: <שלום לכולם!>");
});

Deno.test("runsOf isolates a group's name, the sender's and an action's text", () => {
  const [said] = renderServerMessage(
    { t: "group", group: "team", from: "nana", ts: 0 },
    "مرحبا 123",
    ISOLATE,
  );
  assert.equal(
    rowOf(said!),
    "[Receive group <team> message from <nana>]: <مرحبا 123>",
  );
  const [acted] = renderServerMessage(
    { t: "group", group: "team", from: "nana", ts: 0 },
    "/me waves",
    ISOLATE,
  );
  assert.equal(rowOf(acted!), "[<team>] * <nana> <waves>");
});

Deno.test("runsOf isolates each line of a message of several lines, the breaks between them the row's", () => {
  const [line] = renderSent(
    { kind: "msg", to: "jojo", text: "שלום\nhello" },
    ISOLATE,
  );
  assert.deepEqual(runsOf(safeMarked(line!)), [
    { text: "Private message to ", isolated: false },
    { text: "jojo", isolated: true },
    { text: ": ", isolated: false },
    { text: "שלום", isolated: true },
    { text: "\n", isolated: false },
    { text: "hello", isolated: true },
  ]);
});

Deno.test("runsOf: an isolate mark in a message's text shows as text and makes no run", () => {
  const [line] = renderServerMessage(
    { t: "public", from: "nana", ts: 0 },
    "a\u2069b\u2068c\u202ed",
    ISOLATE,
  );
  assert.equal(
    rowOf(line!),
    "[Broadcast from <nana>]: <a<U+2069>b<U+2068>c<U+202E>d>",
  );
  // A mark without its pair (render.ts makes none) is text too.
  assert.deepEqual(runsOf("x\u2068y"), [
    { text: "x<U+2068>y", isolated: false },
  ]);
});

Deno.test("renderServerMessage marks nothing without isolate: the terminal's lines stay as they were", () => {
  const [line] = renderServerMessage(
    { t: "public", from: "nana", ts: 0 },
    "שלום",
    { color: false },
  );
  assert.equal(line, "[Broadcast from nana]: שלום");
});

Deno.test("marked makes a file's name one run, an isolate mark in it shown as text", () => {
  assert.deepEqual(runsOf(`Save ${marked("a\u2069b\u2068.txt")} now`), [
    { text: "Save ", isolated: false },
    { text: "a<U+2069>b<U+2068>.txt", isolated: true },
    { text: " now", isolated: false },
  ]);
});
