import assert from "node:assert/strict";
import {
  cells,
  charWidth,
  choiceRows,
  commitBlock,
  committedLine,
  drawBlock,
  eraseBlock,
  fitRow,
  hangingRows,
  type InputBlock,
  layoutBlock,
  printedText,
  textColumns,
  updateBlock,
} from "../../src/client/input_block.ts";

/** What erasing writes once the cursor is on the block's first row. */
const CLEAR = "\r\x1b[K\x1b[2G\x1b[J\r";

const block = (
  line: string,
  cursor = line.length,
  prompt = "sophia> ",
  status: string[] = [],
): InputBlock => ({ status, prompt, line, cursor });

Deno.test("charWidth counts wide, zero-width and ordinary characters", () => {
  assert.equal(charWidth("a"), 1);
  assert.equal(charWidth("é"), 1);
  assert.equal(charWidth("漢"), 2);
  assert.equal(charWidth("한"), 2);
  assert.equal(charWidth("😀"), 2);
  assert.equal(charWidth("\u0301"), 0); // combining acute accent
  assert.equal(charWidth("\u200d"), 0); // zero-width joiner
});

Deno.test("charWidth counts a character followed by VARIATION SELECTOR-16 as 2, as kitty and iTerm2 draw it", () => {
  // ☺ ❤ ✔ alone are 1 column; with U+FE0F, kitty, iTerm2, WezTerm and
  // newer VTE draw 2 (tmux 1): 2 is the side that never wraps late.
  assert.equal(charWidth("\u263a"), 1);
  assert.equal(charWidth("\u263a", "\ufe0f"), 2);
  assert.equal(charWidth("\u2764", "\ufe0f"), 2);
  assert.equal(charWidth("\u2714", "\ufe0f"), 2);
  assert.equal(charWidth("1", "\ufe0f"), 2); // a keycap
  assert.equal(charWidth("\ufe0f"), 0);
  assert.equal(textColumns("\u263a\ufe0f \u2764\ufe0f \u2714\ufe0f"), 8);
  assert.equal(textColumns("1\ufe0f\u20e3"), 2);
  // Already 2 wide: the selector adds nothing.
  assert.equal(textColumns("\u{1f600}\ufe0f"), 2);
  assert.deepEqual([...cells("a\u2764\ufe0fb")], [
    ["a", 1],
    ["\u2764", 2],
    ["\ufe0f", 0],
    ["b", 1],
  ]);
});

Deno.test("hangingRows wraps a row with emoji-presentation pairs before the terminal would", () => {
  // 40 columns: 19 hearts drawn 2 wide by kitty are 38 columns, and "ab"
  // ends the row at 40; one more column and the terminal itself would wrap
  // it to the left edge, where padded text could pose as a line of its own.
  const hearts = "\u2764\ufe0f".repeat(19);
  assert.equal(hangingRows(`${hearts}ab`, 40), `${hearts}ab`);
  assert.equal(hangingRows(`${hearts}abc`, 40), `${hearts}ab\n  c`);
});

Deno.test("layoutBlock and fitRow measure an emoji-presentation pair as 2 columns", () => {
  // "> " + 7 ASCII = 9 columns; ☺️ cannot start in the 10th of 10.
  assert.deepEqual(layoutBlock(block("abcdefg\u263a\ufe0f", 9, "> "), 10), {
    rows: 2,
    cursorRow: 1,
    cursorColumn: 2,
  });
  // 40 pairs are 80 columns: the row must be cut to fit in 80.
  const row = "\u2714\ufe0f".repeat(40);
  assert.notEqual(fitRow(row, 80), row);
  assert.equal(textColumns(fitRow(row, 80)), 79);
});

Deno.test("layoutBlock wraps the prompt and line at the width", () => {
  // 8 + 85 = 93 columns: two rows of 60, the cursor on the second.
  assert.deepEqual(layoutBlock(block("x".repeat(85)), 60), {
    rows: 2,
    cursorRow: 1,
    cursorColumn: 33,
  });
  // The cursor moved back to the first row.
  assert.deepEqual(layoutBlock(block("x".repeat(85), 10), 60), {
    rows: 2,
    cursorRow: 0,
    cursorColumn: 18,
  });
  // 8 + 599 = 607 columns of 80: eight rows.
  assert.equal(layoutBlock(block("y".repeat(599)), 80).rows, 8);
});

Deno.test("layoutBlock puts a cursor at the end of a full row on the next", () => {
  assert.deepEqual(layoutBlock(block("x".repeat(52)), 60), {
    rows: 2,
    cursorRow: 1,
    cursorColumn: 0,
  });
});

Deno.test("layoutBlock counts status rows above the prompt", () => {
  const layout = layoutBlock(
    block("hi", 2, "sophia> ", ["big.bin from jojo 1.0 MiB/4.0 MiB 25%"]),
    80,
  );
  assert.deepEqual(layout, { rows: 2, cursorRow: 1, cursorColumn: 10 });
  // A status longer than the width is cut to one row.
  assert.equal(
    layoutBlock(block("", 0, "> ", ["s".repeat(100)]), 80).rows,
    2,
  );
});

Deno.test("fitRow cuts a status row to one row, so its end cannot start a row of its own", () => {
  assert.equal(fitRow("short", 80), "short");
  assert.equal(fitRow("x".repeat(79), 80), "x".repeat(79));
  const forged = `a.txt${" ".repeat(80)}[Broadcast from teacher]: hi`;
  const fitted = fitRow(forged, 80);
  assert.equal(fitted, `a.txt${" ".repeat(73)}\u2026\x1b[0m`);
  assert.ok(!drawBlock(block("", 0, "> ", [forged]), 80).includes("teacher"));
});

Deno.test("layoutBlock moves a wide character that would straddle the edge", () => {
  // "> " + 7 ASCII = 9 columns; the ideograph cannot start in the 10th of 10.
  const layout = layoutBlock(block("abcdefg漢", 8, "> "), 10);
  assert.deepEqual(layout, { rows: 2, cursorRow: 1, cursorColumn: 2 });
});

Deno.test("layoutBlock puts a cursor inside an emoji joined with ZWJ after it, where it is drawn", () => {
  // Alone, "x...👨\u200d" would show the ZWJ as <U+200D>: past the edge.
  const line = `${"x".repeat(62)}👨\u200d👩`;
  assert.deepEqual(layoutBlock(block(line, 62 + 3), 80), {
    rows: 1,
    cursorRow: 0,
    cursorColumn: 74,
  });
  assert.equal(eraseBlock(block(line, 62 + 3), 80), CLEAR);
});

Deno.test("layoutBlock takes colour escapes in the prompt as no width", () => {
  assert.deepEqual(
    layoutBlock(block("ab", 2, "\x1b[1msophia\x1b[0m> "), 80),
    { rows: 1, cursorRow: 0, cursorColumn: 10 },
  );
});

Deno.test("layoutBlock shows control characters in the line visibly", () => {
  // ESC is drawn as ^[ (two columns): nothing typed can steer the terminal.
  assert.equal(layoutBlock(block("\x1b[2J", 4, ""), 80).cursorColumn, 5);
  assert.ok(!drawBlock(block("\x1b[2J", 4, ""), 80).includes("\x1b[2J"));
});

Deno.test("drawBlock writes the block and moves the cursor back to its place", () => {
  assert.equal(
    drawBlock(block("x".repeat(85), 10), 60),
    `sophia> ${"x".repeat(85)}\x1b[1A\x1b[19G`,
  );
  assert.equal(
    drawBlock(block("hi", 2, "> ", ["50%"]), 80),
    "50%\r\n> hi\x1b[5G",
  );
});

Deno.test("drawBlock makes a line ending at the edge wrap at once", () => {
  assert.equal(
    drawBlock(block("x".repeat(52)), 60),
    `sophia> ${"x".repeat(52)} \r\x1b[1G`,
  );
});

Deno.test("eraseBlock goes up to the block's first row at the width now", () => {
  const typed = block("x".repeat(150));
  // Drawn 60 wide, the cursor is on the third row.
  assert.equal(eraseBlock(typed, 60), `\x1b[2A${CLEAR}`);
  // Rewrapped 100 wide by the terminal, on the second; 45 wide, the fourth.
  assert.equal(eraseBlock(typed, 100), `\x1b[1A${CLEAR}`);
  assert.equal(eraseBlock(typed, 45), `\x1b[3A${CLEAR}`);
  assert.equal(eraseBlock(block("hi"), 80), CLEAR);
});

Deno.test("eraseBlock counts a status row drawn wider over the rows a narrower terminal split it into", () => {
  // 70 columns drawn 80 wide: one row; tmux splits it over three of 30.
  const typed = block("hi", 2, "> ", ["s".repeat(70)]);
  assert.equal(eraseBlock(typed, 30, 80), `\x1b[3A${CLEAR}`);
  assert.equal(eraseBlock(typed, 80, 80), `\x1b[1A${CLEAR}`);
  assert.equal(
    updateBlock(typed, 80, typed, 30),
    `\x1b[3A${CLEAR}` + drawBlock(typed, 30),
  );
});

Deno.test("drawBlock cuts an input taller than the screen to the rows around the cursor", () => {
  // 8 + 500 columns: 13 rows of 40, on a screen of 10. Nine are drawn (a
  // full last row wraps the cursor onto a tenth), the last ones.
  const tall = block("y".repeat(500));
  assert.equal(drawBlock(tall, 40, 10), `${"y".repeat(348)}\x1b[29G`);
  assert.equal(eraseBlock(tall, 40, 40, 10), `\x1b[8A${CLEAR}`);
  // The cursor at the start: the first ones, with the prompt.
  const start = block("y".repeat(500), 0);
  assert.equal(
    drawBlock(start, 40, 10),
    `sophia> ${"y".repeat(352)} \r\x1b[9A\x1b[9G`,
  );
  assert.equal(eraseBlock(start, 40, 40, 10), CLEAR);
  // Typing is drawn again, not appended; Enter writes the whole line.
  const more = block("y".repeat(501));
  assert.equal(
    updateBlock(tall, 40, more, 40, 10),
    eraseBlock(tall, 40, 40, 10) + drawBlock(more, 40, 10),
  );
  assert.equal(
    commitBlock(tall, 40, "sophia> ", tall.line, 40, 10),
    `\x1b[8A${CLEAR}` + committedLine("sophia> ", tall.line),
  );
  // A screen it fits on shows it whole.
  assert.equal(drawBlock(tall, 40, 13), drawBlock(tall, 40));
});

Deno.test("printedText ends every line at the left edge", () => {
  assert.equal(printedText("a\nb"), "a\r\nb\r\n");
  assert.equal(printedText("a\r\nb"), "a\r\nb\r\n");
  assert.equal(committedLine("> ", "hi\x07"), "> hi^G\r\n");
});

Deno.test("updateBlock writes only what was typed at the end of the line", () => {
  assert.equal(updateBlock(block("hel"), 80, block("hello"), 80), "lo");
  assert.equal(updateBlock(block("hello"), 80, block("hello"), 80), "");
  // Reaching the edge wraps at once, as drawBlock does.
  assert.equal(
    updateBlock(block("x".repeat(51)), 60, block("x".repeat(52)), 60),
    "x \r",
  );
});

Deno.test("updateBlock draws again after an edit, a new width or a status", () => {
  const redrawn = (next: InputBlock) =>
    eraseBlock(block("hello"), 80) + drawBlock(next, 80);
  assert.equal(
    updateBlock(block("hello"), 80, block("help"), 80),
    redrawn(block("help")),
  );
  assert.equal(
    updateBlock(block("hello"), 80, block("hello!", 1), 80),
    redrawn(block("hello!", 1)),
  );
  const status = block("hello", 5, "sophia> ", ["50%"]);
  assert.equal(updateBlock(block("hello"), 80, status, 80), redrawn(status));
  assert.equal(
    updateBlock(block("hello"), 60, block("hello!"), 80),
    redrawn(block("hello!")),
  );
  assert.equal(
    updateBlock(null, 80, block("hi"), 80),
    drawBlock(block("hi"), 80),
  );
  assert.equal(updateBlock(block("hi"), 80, null, 80), CLEAR);
});

Deno.test("commitBlock ends the typed line with a line break", () => {
  assert.equal(
    commitBlock(block("hel"), 80, "sophia> ", "hello", 80),
    "lo\r\n",
  );
  // With a status row, the line is written again without it.
  assert.equal(
    commitBlock(block("hi", 2, "sophia> ", ["50%"]), 80, "sophia> ", "hi", 80),
    `\x1b[1A${CLEAR}sophia> hi\r\n`,
  );
  // A line that ended at the edge left the cursor on a fresh row: written
  // again, so that row does not stay as an empty line.
  const full = "x".repeat(52);
  assert.equal(
    commitBlock(block(full), 60, "sophia> ", full, 60),
    `\x1b[1A${CLEAR}sophia> ${full}\r\n`,
  );
  assert.equal(commitBlock(null, 80, "> ", "hi", 80), "> hi\r\n");
});

Deno.test("updateBlock keeps an emoji's variation selector with it", () => {
  // Alone, U+FE0F would be shown as <U+FE0F>; typed after ❤ it selects the
  // emoji form and is written as it is, for the terminal to join.
  assert.equal(
    updateBlock(block("I ❤"), 80, block("I ❤\ufe0f"), 80),
    "\ufe0f",
  );
  assert.ok(drawBlock(block("\ufe0f"), 80).includes("<U+FE0F>"));
  assert.ok(!drawBlock(block("I ❤\ufe0f"), 80).includes("<U+FE0F>"));
});

Deno.test("hangingRows keeps a line that fits, and indents the rows a longer one continues on", () => {
  assert.equal(
    hangingRows("[Broadcast from eve]: hi", 80),
    "[Broadcast from eve]: hi",
  );
  assert.equal(hangingRows("x".repeat(10), 10), "x".repeat(10));
  assert.equal(hangingRows("abcdefghijklmnop", 10), "abcdefghij\n  klmnop");
  assert.equal(
    hangingRows("a".repeat(25), 10),
    `${"a".repeat(10)}\n  ${"a".repeat(8)}\n  ${"a".repeat(7)}`,
  );
  // Each line of a multi-line text on its own.
  assert.equal(
    hangingRows("abc\n" + "b".repeat(12), 10),
    `abc\n${"b".repeat(10)}\n  bb`,
  );
});

Deno.test("hangingRows continues a line before an emoji joined with ZWJ, never inside it", () => {
  const family = "👨\u200d👩\u200d👧";
  assert.equal(hangingRows(`abcdef${family}`, 10), `abcdef\n  ${family}`);
  // Combining marks stay with their letter.
  assert.equal(hangingRows("abcdefghije\u0301", 10), "abcdefghij\n  e\u0301");
});

Deno.test("hangingRows: padding cannot start a row at the left edge", () => {
  const prefix = "[Broadcast from eve]: ";
  const forged = "[Broadcast from teacher]: exam moved";
  const line = prefix + "lol" + " ".repeat(80 - prefix.length - 3) + forged;
  const rows = hangingRows(line, 80).split("\n");
  assert.equal(rows.length, 2);
  assert.equal(rows[1], `  ${forged}`);
});

Deno.test("hangingRows counts colours as no room and wide characters as two", () => {
  const red = "\x1b[31m";
  const reset = "\x1b[0m";
  assert.equal(
    hangingRows(`${red}${"r".repeat(10)}${reset}`, 10),
    `${red}${"r".repeat(10)}${reset}`,
  );
  // The indent is drawn plain, the colour taken up after it.
  assert.equal(
    hangingRows(`${"r".repeat(9)}${red}rr${reset}`, 10),
    `${"r".repeat(9)}${red}r${reset}\n  ${red}r${reset}`,
  );
  // Tangut, Nushu and enclosed ideographs are wide too.
  assert.equal(
    hangingRows(`${"x".repeat(9)}\u{17000}`, 10),
    `${"x".repeat(9)}\n  \u{17000}`,
  );
  // A wide character that would straddle the edge goes to the next row.
  assert.equal(
    hangingRows(`${"x".repeat(9)}漢字`, 10),
    `${"x".repeat(9)}\n  漢字`,
  );
  // Too narrow to indent: left to the terminal.
  assert.equal(hangingRows("abcdefgh", 4), "abcdefgh");
});

Deno.test("hangingRows ends a row between words when the next word fits on the next row", () => {
  // Seen at 40 columns: "... Accept? [y]es / [n]o / always from s" / "  ophia".
  // The space the row ends at is left out too: at the row's end it was
  // copied with it ("... list of " / "  commands").
  assert.equal(
    hangingRows("Accept? [y]es / [n]o / always from sophia", 38),
    "Accept? [y]es / [n]o / always from\n  sophia",
  );
  // A space that would start a row is left out; the next word starts it.
  assert.equal(hangingRows("abcdefghij klm", 10), "abcdefghij\n  klm");
  // A word longer than a row is cut where the row ends, as before.
  assert.equal(
    hangingRows("ab cdefghijklmnop", 10),
    "ab cdefghi\n  jklmnop",
  );
  // The colour in force at the space is ended before the break and taken
  // up after the indent.
  const red = "\x1b[31m";
  const reset = "\x1b[0m";
  assert.equal(
    hangingRows(`${red}one two${reset} three`, 10),
    `${red}one two${reset}\n  three`,
  );
  assert.equal(
    hangingRows(`${red}one two three${reset}`, 10),
    `${red}one two${reset}\n  ${red}three${reset}`,
  );
});

Deno.test("choiceRows breaks the list of choices between choices, never inside one", () => {
  const commands = ["/list", "/showgroups", "/create", "/showgroupmembers"];
  // "/list  /showgroups  /create" is 27 columns.
  assert.deepEqual(choiceRows(commands, 27), [
    "/list  /showgroups  /create",
    "/showgroupmembers",
  ]);
  assert.deepEqual(choiceRows(commands, 26), [
    "/list  /showgroups",
    "/create  /showgroupmembers",
  ]);
  // Wider than a row: a row of its own, cut by the terminal as any line.
  assert.deepEqual(choiceRows(["a", "0123456789", "b"], 5), [
    "a",
    "0123456789",
    "b",
  ]);
  // Wide characters count as two columns.
  assert.deepEqual(choiceRows(["你好", "ab"], 7), ["你好", "ab"]);
  assert.deepEqual(choiceRows(["你好", "ab"], 8), ["你好  ab"]);
  assert.deepEqual(choiceRows([], 80), []);
});

Deno.test("hangingRows continues a set-in line after the first at its own indent, up to half the width", () => {
  assert.equal(
    hangingRows(`head: abc\n${" ".repeat(6)}defghijklm`, 12),
    `head: abc\n${" ".repeat(6)}defghi\n${" ".repeat(6)}jklm`,
  );
  // Past half the width: the usual hanging indent.
  assert.equal(
    hangingRows(`h\n${" ".repeat(7)}abc defgh`, 12),
    `h\n${" ".repeat(7)}abc\n  defgh`,
  );
  // The first line's own spaces are text, not an indent.
  assert.equal(hangingRows("      abcdefghij", 12), "      abcdef\n  ghij");
});

Deno.test("hangingRows sets a further line in less rather than cut its first word after the indent", () => {
  const indent = " ".repeat(27);
  assert.equal(
    hangingRows(`head: hi\n${indent}internationalization is long`, 40),
    `head: hi\n${" ".repeat(20)}internationalization\n  is long`,
  );
  // A word longer than a row is still cut, at the line's own indent.
  assert.equal(
    hangingRows(`a\n${" ".repeat(23)}${"x".repeat(39)}`, 40),
    `a\n${" ".repeat(23)}${"x".repeat(17)}\n  ${"x".repeat(22)}`,
  );
});

Deno.test("hangingRows gives the bell that ends a private message no room", () => {
  // 40 columns of text and the bell: one row, not its last word moved on.
  const line = `Private message from jojo: ${"x".repeat(13)}\x07`;
  assert.equal(hangingRows(line, 40), line);
  assert.equal(
    hangingRows(`Private message from jojo: ${"x".repeat(14)}\x07`, 40),
    `Private message from jojo:\n  ${"x".repeat(14)}\x07`,
  );
});
