// This module is browser compatible.

/**
 * The input block at the bottom of an interactive terminal: what is drawn and
 * how to get rid of it again, as strings of text and ANSI escapes. Pure: the
 * terminal edge (terminal.ts) writes what these functions return.
 *
 * The block is zero or more status rows (transfer progress today; later a
 * status bar with unread counts) followed by the prompt and the line being
 * typed, which wraps over as many rows as it needs. Incoming text is written
 * where the block starts, after erasing it, and the block is drawn again
 * below; so nothing incoming is ever drawn over, whatever the block's height.
 *
 * To erase the block, the cursor goes up to its first row. How far that is
 * depends on the width: terminals that reflow wrapped lines on resize (tmux,
 * VTE, kitty, iTerm2, Windows Terminal) rewrap the block to the new width, so
 * the distance is recomputed at the width in force when erasing.
 *
 * @module
 */

import { sanitizeForTerminal } from "../text/sanitize.ts";

/** What the block shows. */
export interface InputBlock {
  /** Rows above the prompt, each its own line (wrapped if too long). */
  readonly status: readonly string[];
  readonly prompt: string;
  /** The text being typed, as the line editor holds it. */
  readonly line: string;
  /** The cursor, as an index into `line` (UTF-16 code units). */
  readonly cursor: number;
}

/** Where things are in a drawn block, in rows and columns from its top left. */
export interface BlockLayout {
  /** Rows the block occupies. */
  readonly rows: number;
  readonly cursorRow: number;
  readonly cursorColumn: number;
}

const ESC = "\x1b";
/** Rings the terminal's bell (render.ts, for a private message); no room. */
const BELL = "\x07";
/** CSI sequences (colours and cursor moves) take no room on screen. */
// deno-lint-ignore no-control-regex -- an escape sequence begins with ESC
const CSI_PATTERN = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
/** Splits text into CSI sequences (kept, in the result) and what is between. */
const CSI_SPLIT = new RegExp(`(${CSI_PATTERN.source})`);
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060\ufe00-\ufe0f]$/u;
const EMOJI = /^\p{Emoji_Presentation}$/u;

/** VARIATION SELECTOR-16: asks for the emoji form of the character before. */
const EMOJI_SELECTOR = "\ufe0f";

/**
 * Columns one code point takes on a terminal: 0 for combining marks and
 * joiners, 2 for East Asian wide and fullwidth characters and emoji, else 1.
 * A character `next` to VARIATION SELECTOR-16 (☺️ ❤️ ✔️) takes 2: kitty,
 * iTerm2, WezTerm and newer VTE draw the pair 2 wide, tmux 1. Counting 2 is
 * the safe side: a row wrapped a column early loses a cell, one wrapped late
 * is wrapped by the terminal itself, to the left edge, where padded text
 * could pose as a line of its own (hangingRows).
 */
export function charWidth(char: string, next?: string): 0 | 1 | 2 {
  if (next === EMOJI_SELECTOR && char !== EMOJI_SELECTOR) return 2;
  return codePointWidth(char);
}

/**
 * Each code point of `text` with the columns it takes (charWidth, which
 * looks at the code point after it).
 */
export function* cells(text: string): Generator<[string, 0 | 1 | 2]> {
  let char: string | undefined;
  for (const next of text) {
    if (char !== undefined) yield [char, charWidth(char, next)];
    char = next;
  }
  if (char !== undefined) yield [char, charWidth(char)];
}

function codePointWidth(char: string): 0 | 1 | 2 {
  const code = char.codePointAt(0) ?? 0;
  // Fast path: Latin text, measured at every key on lines of thousands.
  if (code >= 0x20 && code < 0x300) return 1;
  if (ZERO_WIDTH.test(char)) return 0;
  if (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    // Tangut, Khitan, Nushu and the kana supplements; enclosed ideographs.
    (code >= 0x16fe0 && code <= 0x18dff) ||
    (code >= 0x1aff0 && code <= 0x1b2ff) ||
    (code >= 0x1f200 && code <= 0x1f2ff) ||
    (code >= 0x20000 && code <= 0x3fffd) ||
    EMOJI.test(char)
  ) {
    return 2;
  }
  return 1;
}

/**
 * Advances `offset` (columns from the start of a logical line) over `text`
 * laid out `columns` wide. A wide character that would straddle the right
 * edge goes to the next row, leaving one cell empty, as terminals do.
 */
function advance(offset: number, text: string, columns: number): number {
  for (const [, width] of cells(text.replace(CSI_PATTERN, ""))) {
    if (width === 2 && offset % columns === columns - 1) offset++;
    offset += width;
  }
  return offset;
}

/**
 * The typed line as drawn, up to `end` (an index into `line`): controls and
 * invisible characters made visible, as in everything else shown. The whole
 * prefix at once, so an emoji's variation selector or joiner stays with it.
 */
function shownLine(line: string, end = line.length): string {
  return sanitizeForTerminal(line.slice(0, end));
}

/**
 * The typed line as drawn up to the cursor, or up to the end of the
 * sequence the cursor is in when that part alone is shown otherwise: an
 * emoji's ZWJ or a flag's tags cut off from the rest are made visible, so
 * the part would take more columns than it takes in the line as drawn, and
 * the cursor (and the row the block is erased from) would be put wrong. A
 * terminal cannot put its cursor inside such a sequence anyway.
 */
function shownToCursor(
  line: string,
  cursor: number,
  whole = shownLine(line),
): string {
  if (cursor >= line.length) return whole;
  for (let end = cursor;;) {
    const before = shownLine(line, end);
    if (end >= line.length || whole.startsWith(before)) return before;
    end += (line.codePointAt(end) ?? 0) > 0xffff ? 2 : 1;
  }
}

/** Columns `text` takes on one unbounded row; colour sequences take none. */
export function textColumns(text: string): number {
  let width = 0;
  for (const [, cell] of cells(text.replace(CSI_PATTERN, ""))) width += cell;
  return width;
}

/** Rows a logical line `width` columns wide takes (at least one). */
function rowsOf(width: number, columns: number): number {
  return Math.max(1, Math.ceil(width / columns));
}

/**
 * A status row cut to fit on one row `columns` wide, with an ellipsis: a
 * long one (a file's name) must not wrap to the left edge just above the
 * prompt, where its end would read as a line of its own.
 */
export function fitRow(text: string, columns: number): string {
  if (advance(0, text, columns) < columns) return text;
  let out = "";
  let used = 0;
  for (const token of text.split(CSI_SPLIT)) {
    if (token.startsWith(ESC)) {
      out += token;
      continue;
    }
    for (const [char, width] of cells(token)) {
      if (used + width > columns - 2) return `${out}\u2026${ESC}[0m`;
      out += char;
      used += width;
    }
  }
  return out;
}

/**
 * What drawing a block writes: its status rows cut to the width, then the
 * input (the prompt and the line, or only some of their rows) and the
 * cursor as an index into it.
 */
interface Drawing {
  readonly status: readonly string[];
  readonly input: string;
  readonly cursor: number;
  /** The input is only the rows around the cursor: the rest did not fit. */
  readonly windowed: boolean;
}

/** The index in `text` where each row begins when laid out `columns` wide. */
function rowStarts(text: string, columns: number): number[] {
  const starts = [0];
  let offset = 0;
  let index = 0;
  for (const token of text.split(CSI_SPLIT)) {
    if (token.startsWith(ESC)) {
      index += token.length;
      continue;
    }
    for (const [char, width] of cells(token)) {
      if (width === 2 && offset % columns === columns - 1) offset++;
      // A zero-width character stays on the row of the one it goes with.
      if (width > 0 && offset > 0 && offset % columns === 0) {
        starts.push(index);
      }
      offset += width;
      index += char.length;
    }
  }
  return starts;
}

/**
 * What drawing `block` `columns` wide on a screen `height` rows high
 * writes. An input taller than the screen is cut to the rows around the
 * cursor: the terminal scrolls rows drawn above its top into the scrollback,
 * where the cursor cannot go to erase them, and each line printed above the
 * input would leave a stale copy of them behind.
 */
function drawingOf(
  block: InputBlock,
  columns: number,
  height: number,
): Drawing {
  // Each block is drawn, then erased or compared with the next one: measured
  // once (a line of thousands of characters is measured at every key).
  const key = `${columns}x${height}`;
  const known = drawings.get(block);
  if (known?.key === key) return known.drawing;
  const drawing = measure(block, columns, height);
  drawings.set(block, { key, drawing });
  return drawing;
}

/** The last drawing worked out for each block, and for what screen. */
const drawings = new WeakMap<InputBlock, { key: string; drawing: Drawing }>();

function measure(block: InputBlock, columns: number, height: number): Drawing {
  const status = block.status.map((row) => fitRow(row, columns));
  const shown = shownLine(block.line);
  const input = block.prompt + shown;
  const cursor = block.prompt.length +
    shownToCursor(block.line, block.cursor, shown).length;
  let top = 0;
  for (const row of status) top += rowsOf(advance(0, row, columns), columns);
  const rows = Math.floor(advance(0, input, columns) / columns) + 1;
  if (top + rows <= height) return { status, input, cursor, windowed: false };
  // A row fewer: the last row kept is full, and drawBlock then wraps the
  // cursor onto a fresh row.
  const keep = Math.max(1, height - top - 1);
  const cursorRow = Math.floor(
    advance(0, input.slice(0, cursor), columns) / columns,
  );
  const first = Math.max(0, Math.min(cursorRow, rows - keep));
  const starts = rowStarts(input, columns);
  const from = starts[first] ?? input.length;
  const to = starts[first + keep] ?? input.length;
  return {
    status,
    input: input.slice(from, to),
    cursor: Math.max(from, Math.min(cursor, to)) - from,
    windowed: true,
  };
}

/** Where everything in `drawing` is, laid out `columns` wide. */
function layoutOf(drawing: Drawing, columns: number): BlockLayout {
  let top = 0;
  for (const row of drawing.status) {
    top += rowsOf(advance(0, row, columns), columns);
  }
  const atCursor = advance(0, drawing.input.slice(0, drawing.cursor), columns);
  const end = advance(0, drawing.input, columns);
  // At the very end of a full row the cursor sits at the start of the next
  // one (drawBlock puts it there), which is then part of the block.
  return {
    rows: top + Math.floor(end / columns) + 1,
    cursorRow: top + Math.floor(atCursor / columns),
    cursorColumn: atCursor % columns,
  };
}

/**
 * Where everything is when `block` is drawn `columns` wide on a screen
 * `height` rows high, or was drawn `drawnColumns` wide and the terminal
 * rewrapped it to `columns`: what was drawn stays as it was cut to the width
 * then (a status row, the rows of a tall input), and a terminal that reflows
 * splits a row that no longer fits (tmux does, though the row ended with a
 * line break).
 */
export function layoutBlock(
  block: InputBlock,
  columns: number,
  drawnColumns = columns,
  height = Infinity,
): BlockLayout {
  return layoutOf(
    drawingOf(block, Math.max(1, drawnColumns), height),
    Math.max(1, columns),
  );
}

/**
 * Draws `block` from the start of the current row (which must be where the
 * block begins) and leaves the cursor where the user's cursor is. `height`:
 * the screen's, which a taller input is cut to (drawingOf).
 */
export function drawBlock(
  block: InputBlock,
  columns: number,
  height = Infinity,
): string {
  const cols = Math.max(1, columns);
  const drawing = drawingOf(block, cols, height);
  const layout = layoutOf(drawing, cols);
  let out = "";
  for (const status of drawing.status) out += `${status}\r\n`;
  out += drawing.input;
  const end = advance(0, drawing.input, cols);
  // A line that ends exactly at the right edge leaves the cursor pending
  // there; a space makes the terminal wrap now, so the cursor can move to
  // the next row like everywhere else (readline does the same).
  if (end > 0 && end % cols === 0) out += " \r";
  const endRow = layout.rows - 1;
  if (endRow > layout.cursorRow) out += `${ESC}[${endRow - layout.cursorRow}A`;
  out += `${ESC}[${layout.cursorColumn + 1}G`;
  return out;
}

/**
 * Erases a drawn `block` from the cursor (wherever drawBlock left it), leaving
 * the cursor at the start of the block's first row. `columns` is the width
 * now: a terminal that reflowed the block rewrapped it to that width;
 * `drawnColumns` and `drawnHeight` the screen's size when it was drawn.
 */
export function eraseBlock(
  block: InputBlock,
  columns: number,
  drawnColumns = columns,
  drawnHeight = Infinity,
): string {
  const { cursorRow } = layoutBlock(block, columns, drawnColumns, drawnHeight);
  return `${cursorRow > 0 ? `${ESC}[${cursorRow}A` : ""}${CLEAR_DOWN}`;
}

/**
 * Clears from the start of the cursor's row to the end of the screen. Not
 * `\r ESC[J` alone: from the top left corner (a block at the top of the
 * screen, after Ctrl-L or when it fills the screen) that clears the whole
 * screen, which tmux (scroll-on-clear) first scrolls into the scrollback, a
 * stale copy of the block above every line printed next. The row, then
 * from its second column down, are the same cells.
 */
const CLEAR_DOWN = `\r${ESC}[K${ESC}[2G${ESC}[J\r`;

/** Whether `block` is drawn whole (not cut to the screen's height). */
function whole(block: InputBlock, columns: number, height: number): boolean {
  return !drawingOf(block, columns, height).windowed;
}

/** Whether `block` ends exactly at the right edge (drawBlock then wraps it). */
function endsAtEdge(block: InputBlock, columns: number): boolean {
  const end = advance(0, block.prompt + shownLine(block.line), columns);
  return end > 0 && end % columns === 0;
}

/**
 * The text typed since `drawn` when `next` only adds to its end (the usual
 * keystroke), or null when the block must be drawn again.
 */
function appended(
  drawn: InputBlock,
  next: InputBlock,
): string | null {
  if (
    drawn.prompt !== next.prompt ||
    drawn.status.length !== next.status.length ||
    drawn.status.some((status, i) => status !== next.status[i]) ||
    drawn.cursor !== drawn.line.length ||
    next.cursor !== next.line.length
  ) {
    return null;
  }
  // Compared as shown: a selector typed after an emoji changes how the
  // text before it is shown (a lone one is made visible, a paired one not).
  const before = shownLine(drawn.line);
  const after = shownLine(next.line);
  return after.startsWith(before) ? after.slice(before.length) : null;
}

/**
 * Turns the block on screen from `drawn` (drawn `drawnColumns` wide on a
 * screen `drawnHeight` rows high, or null for none) into `next` (or null for
 * none), on a screen `columns` wide and `height` high now. Typing at the
 * end of the line only writes what was typed, as readline does; anything else
 * erases the block and draws it again.
 */
export function updateBlock(
  drawn: InputBlock | null,
  drawnColumns: number,
  next: InputBlock | null,
  columns: number,
  height = Infinity,
  drawnHeight = height,
): string {
  const cols = Math.max(1, columns);
  if (drawn === null) return next === null ? "" : drawBlock(next, cols, height);
  const erase = () => eraseBlock(drawn, cols, drawnColumns, drawnHeight);
  if (next === null) return erase();
  const typed = drawnColumns === cols &&
      whole(drawn, cols, drawnHeight) && whole(next, cols, height)
    ? appended(drawn, next)
    : null;
  if (typed === null) return erase() + drawBlock(next, cols, height);
  return typed + (typed !== "" && endsAtEdge(next, cols) ? " \r" : "");
}

/**
 * Enter: the block (`drawn`, drawn `drawnColumns` wide on a screen
 * `drawnHeight` rows high) becomes the line as
 * it stays on screen, `prompt` and `line`, and the cursor goes to the start of
 * the next row. When the line was typed at the end, only the rest of it and
 * the line break are written.
 */
export function commitBlock(
  drawn: InputBlock | null,
  drawnColumns: number,
  prompt: string,
  line: string,
  columns: number,
  drawnHeight = Infinity,
): string {
  const cols = Math.max(1, columns);
  const done: InputBlock = { status: [], prompt, line, cursor: line.length };
  const typed = drawn !== null && drawnColumns === cols &&
      whole(drawn, cols, drawnHeight)
    ? appended(drawn, done)
    : null;
  // A line drawn ending at the edge was wrapped onto a fresh row (drawBlock),
  // which would be left as an empty line; typing more fills it.
  const stranded = typed === "" && endsAtEdge(drawn!, cols);
  if (typed !== null && !stranded) {
    return `${typed}\r\n`;
  }
  return (drawn === null
    ? ""
    : eraseBlock(drawn, cols, drawnColumns, drawnHeight)) +
    committedLine(prompt, line);
}

/** The line as it stays on screen once Enter is pressed (block erased first). */
export function committedLine(prompt: string, line: string): string {
  return printedText(prompt + shownLine(line));
}

/**
 * Text printed above the block: each line begins at the left edge. The
 * terminal is in raw mode, where a bare newline would not return the cursor.
 */
export function printedText(text: string): string {
  return `${text.replace(/\r?\n/g, "\r\n")}\r\n`;
}

const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Columns a wrapped line's further rows are indented by (hangingRows). */
export const HANGING_INDENT = 2;

/**
 * The choices a second Tab lists, two spaces apart, in rows of at most
 * `columns`: a row breaks between choices, never inside one (the terminal
 * would cut a row anywhere, "/s" on one row and "howgroups" on the next).
 * A choice wider than a row has a row of its own.
 */
export function choiceRows(
  choices: readonly string[],
  columns: number,
): string[] {
  const rows: string[] = [];
  let row = "";
  let used = 0;
  for (const choice of choices) {
    const width = textColumns(choice);
    if (row !== "" && used + 2 + width > columns) {
      rows.push(row);
      row = "";
      used = 0;
    }
    if (row === "") {
      row = choice;
      used = width;
    } else {
      row += `  ${choice}`;
      used += 2 + width;
    }
  }
  if (row !== "") rows.push(row);
  return rows;
}

/**
 * `text` laid out `columns` wide with a hanging indent: each line that does
 * not fit continues on rows that begin with HANGING_INDENT spaces. Why: the
 * terminal would wrap it to the left edge, where a message padded to the
 * width (spaces, or any text) could start a row that reads as a line of its
 * own: "[Broadcast from teacher]: ...". Only the start of a real line is at
 * the left edge. A row ends after a space when the word that does not fit
 * fits on the next row ("from s" / "ophia" read badly at 40 columns); a
 * space that would be the first thing on a row is left out, as at the end of
 * a row it draws nothing. Colour sequences take no room and are never split.
 * A line after the first that is itself set in (a message's further lines,
 * under its text: text_output.ts) continues at its own indent, up to half
 * the width.
 */
export function hangingRows(text: string, columns: number): string {
  if (columns <= 2 * HANGING_INDENT) return text;
  return text.split("\n").map((line, lineIndex) => {
    const lead = lineIndex === 0 ? 0 : /^ */.exec(line)![0].length;
    const hang = lead > HANGING_INDENT && lead <= columns / 2
      ? lead
      : HANGING_INDENT;
    const indent = " ".repeat(hang);
    const rowBreak = (colour: string) =>
      colour === "" ? `\n${indent}` : `${ESC}[0m\n${indent}${colour}`;
    // Colour sequences and the bell that ends a private message or a
    // mention (width -1: no room, never split) and graphemes: a row never
    // ends inside an emoji joined with ZWJ (or a flag's pair), which would
    // show it in two pieces, and the terminal joins what follows a ZWJ to
    // it, an indent space too.
    const pieces: { text: string; width: number }[] = [];
    for (const token of line.split(CSI_SPLIT)) {
      if (token.startsWith(ESC)) {
        pieces.push({ text: token, width: -1 });
        continue;
      }
      for (const { segment } of GRAPHEMES.segment(token)) {
        if (segment === BELL) {
          pieces.push({ text: segment, width: -1 });
          continue;
        }
        pieces.push({ text: segment, width: textColumns(segment) });
      }
    }
    // The columns of the word that starts at piece `from`.
    const wordWidth = (from: number) => {
      let width = 0;
      for (let i = from; i < pieces.length && pieces[i]!.text !== " "; i++) {
        width += Math.max(0, pieces[i]!.width);
      }
      return width;
    };
    // A set-in line whose first word does not fit after its indent, but
    // would on a row it continues on: the indent is cut so that the word
    // ends at the right edge (the hanging indent at least), instead of the
    // word being cut in two ("...  internatio" / "  nalization").
    let spaces = 0;
    while (lineIndex > 0 && pieces[spaces]?.text === " ") spaces++;
    const first = wordWidth(spaces);
    if (
      spaces > hang && spaces + first > columns && first <= columns - hang
    ) {
      pieces.splice(0, spaces - Math.max(hang, columns - first));
    }
    let out = "";
    let used = 0;
    let room = columns;
    // The colour in force: ended before a break and taken up after the
    // indent, which is drawn plain.
    let colour = "";
    // Where this row could end instead: just after its last space (in
    // `out`, and the piece after it), with the columns used up to there
    // and the colour in force there.
    let breakAt = -1;
    let wordStart = 0;
    let usedAtBreak = 0;
    let colourAtBreak = "";
    // A line's leading spaces are its indent, not a place to end a row:
    // the word after them would leave a row of spaces.
    let inText = false;
    pieces.forEach((piece, i) => {
      if (piece.width < 0) {
        out += piece.text;
        if (piece.text.endsWith("m")) {
          colour = piece.text === `${ESC}[0m` || piece.text === `${ESC}[m`
            ? ""
            : piece.text;
        }
        return;
      }
      if (piece.width > 0 && used + piece.width > room) {
        room = columns - hang;
        if (piece.text === " ") {
          // The row ends here; the space would only push the next one.
          out += rowBreak(colour);
          used = 0;
          breakAt = -1;
          return;
        }
        if (breakAt >= 0 && wordWidth(wordStart) <= room) {
          // The word begun after the last space moves to the next row, and
          // the spaces before it stay with neither: left at the row's end,
          // they were copied with it ("list of " / "commands").
          const head = out.slice(0, breakAt);
          const rowStart = head.lastIndexOf("\n") + 1;
          const trimmed = head.replace(/ +$/, "");
          const kept = trimmed.length > rowStart + (rowStart > 0 ? hang : 0)
            ? trimmed
            : head;
          out = kept + rowBreak(colourAtBreak) + out.slice(breakAt);
          used -= usedAtBreak;
        } else {
          out += rowBreak(colour);
          used = 0;
        }
        breakAt = -1;
      }
      out += piece.text;
      used += piece.width;
      if (piece.text !== " ") inText = true;
      else if (inText) {
        breakAt = out.length;
        wordStart = i + 1;
        usedAtBreak = used;
        colourAtBreak = colour;
      }
    });
    return out;
  }).join("\n");
}
