import assert from "node:assert/strict";
import {
  MARKER_WAIT_MS,
  MAX_PASTE_CHARS,
  PASTE_END,
  PASTE_IDLE_MS,
  PASTE_START,
  pastedText,
  type PasteEvent,
  PasteParser,
  placePaste,
} from "../../src/client/bracketed_paste.ts";

/** Everything `chunks` bring, read by read, then what a timeout brings. */
function parse(chunks: readonly string[], timeout = false): PasteEvent[] {
  const parser = new PasteParser();
  const events = chunks.flatMap((chunk) => parser.feed(chunk));
  if (timeout) events.push(...parser.timedOut());
  return events;
}

Deno.test("PasteParser passes keys through and takes a paste out whole", () => {
  assert.deepEqual(parse(["ab", `c${PASTE_START}x\ry\r${PASTE_END}d`]), [
    { kind: "keys", text: "ab" },
    { kind: "keys", text: "c" },
    { kind: "paste", text: "x\ny\n" },
    { kind: "keys", text: "d" },
  ]);
});

Deno.test("PasteParser finds markers cut between reads at every place", () => {
  const input = `k1${PASTE_START}pasted${PASTE_END}k2`;
  for (let a = 0; a <= input.length; a++) {
    for (let b = a; b <= input.length; b++) {
      const events = parse([
        input.slice(0, a),
        input.slice(a, b),
        input.slice(b),
      ]);
      const keys = events.filter((e) => e.kind === "keys").map((e) =>
        (e as { text: string }).text
      ).join("");
      assert.equal(keys, "k1k2", `cut at ${a}, ${b}`);
      assert.deepEqual(
        events.filter((e) => e.kind !== "keys"),
        [{ kind: "paste", text: "pasted" }],
        `cut at ${a}, ${b}`,
      );
    }
  }
});

Deno.test("PasteParser takes a paste read one character at a time", () => {
  const input = `${PASTE_START}one\rtwo${PASTE_END}`;
  assert.deepEqual(parse([...input]), [{ kind: "paste", text: "one\ntwo" }]);
});

Deno.test("PasteParser holds a marker's start only until its wait is over", () => {
  const parser = new PasteParser();
  // An Escape pressed alone looks like the start of a marker.
  assert.deepEqual(parser.feed("a\x1b"), [{ kind: "keys", text: "a" }]);
  assert.equal(parser.waitMs, MARKER_WAIT_MS);
  assert.deepEqual(parser.timedOut(), [{ kind: "keys", text: "\x1b" }]);
  assert.equal(parser.waitMs, null);
  // An arrow key (ESC [ D) is no marker: passed at once.
  assert.deepEqual(parser.feed("\x1b[D"), [{ kind: "keys", text: "\x1b[D" }]);
  assert.equal(parser.waitMs, null);
});

Deno.test("PasteParser drops a stray end marker and keeps a nested start marker out of the text", () => {
  assert.deepEqual(parse([`a${PASTE_END}b`]), [
    { kind: "keys", text: "a" },
    { kind: "keys", text: "b" },
  ]);
  // Nested: the first end marker ends the paste; the second is stray.
  assert.deepEqual(
    parse([`${PASTE_START}x${PASTE_START}y${PASTE_END}z${PASTE_END}w`]),
    [
      { kind: "paste", text: "xy" },
      { kind: "keys", text: "z" },
      { kind: "keys", text: "w" },
    ],
  );
});

Deno.test("PasteParser ends a paste whose end marker never comes when the input pauses", () => {
  const parser = new PasteParser();
  assert.deepEqual(parser.feed(`${PASTE_START}half a paste`), []);
  assert.equal(parser.pasting, true);
  assert.equal(parser.waitMs, PASTE_IDLE_MS);
  assert.deepEqual(parser.timedOut(), [{
    kind: "paste",
    text: "half a paste",
  }]);
  assert.equal(parser.pasting, false);
  // What comes next are keys again.
  assert.deepEqual(parser.feed("typed"), [{ kind: "keys", text: "typed" }]);
});

Deno.test("PasteParser takes a paste of many reads up to MAX_PASTE_CHARS, and drops a longer one whole without holding it", () => {
  const read = "0123456789abcde\r".repeat(4096); // 64 KiB a read
  const parser = new PasteParser();
  const events = [parser.feed(PASTE_START)];
  for (let n = 0; n < MAX_PASTE_CHARS / read.length; n++) {
    events.push(parser.feed(read));
  }
  events.push(parser.feed(`${PASTE_END}after`));
  const all = events.flat();
  assert.equal(all.length, 2);
  assert.equal(all[0]!.kind, "paste");
  const text = (all[0] as { text: string }).text;
  assert.equal(text.length, MAX_PASTE_CHARS);
  assert.equal(text.split("\n").length, MAX_PASTE_CHARS / 16 + 1);
  assert.deepEqual(all[1], { kind: "keys", text: "after" });

  // A character more: dropped, and the rest up to the end marker with it,
  // a marker cut between reads too.
  const long = new PasteParser();
  long.feed(PASTE_START + "x".repeat(MAX_PASTE_CHARS + 1));
  for (let n = 0; n < 100; n++) assert.deepEqual(long.feed(read), []);
  assert.deepEqual(long.feed(`more${PASTE_END.slice(0, 3)}`), []);
  assert.deepEqual(long.feed(`${PASTE_END.slice(3)}typed`), [
    { kind: "too-long" },
    { kind: "keys", text: "typed" },
  ]);
  // ... or up to a pause, if no end marker comes.
  const endless = new PasteParser();
  endless.feed(PASTE_START + "y".repeat(MAX_PASTE_CHARS + 1));
  assert.deepEqual(endless.timedOut(), [{ kind: "too-long" }]);
});

Deno.test("pastedText makes no control character a key: line breaks kept, tabs as spaces, the rest dropped", () => {
  assert.equal(pastedText("a\r\nb\rc\nd"), "a\nb\nc\nd");
  assert.equal(pastedText("\tx"), "    x");
  assert.equal(
    pastedText("C\x03D\x04E\x7f\x1b[31mred\x1b[0m\x1b[A\x1bx\u009b"),
    "CDEred",
  );
  // A title (OSC) to its end, and a string not ended to the line's end.
  assert.equal(pastedText("a\x1b]0;title\x07b\x1b]2;open\nc"), "ab\nc");
});

Deno.test("placePaste leaves one line in the editor at the cursor, its line break dropped", () => {
  assert.deepEqual(placePaste("", 0, "hello\n"), {
    kind: "edit",
    line: "hello",
    cursor: 5,
  });
  assert.deepEqual(placePaste("say  now", 4, "it"), {
    kind: "edit",
    line: "say it now",
    cursor: 6,
  });
});

Deno.test("placePaste asks about several lines, the typed text around the cursor joining the first and the last", () => {
  assert.deepEqual(placePaste("a ", 2, "b\nc\n"), {
    kind: "ask",
    lines: ["a b", "c"],
    rest: "",
  });
  assert.deepEqual(placePaste("[]", 1, "x\ny"), {
    kind: "ask",
    lines: ["[x"],
    rest: "y]",
  });
});
