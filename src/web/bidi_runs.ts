// This module is browser compatible.

/**
 * A row's text as runs for the bidi algorithm: the parts a user wrote (a
 * name, a group's name, a message's text), which render.ts marks with FSI
 * and PDI (`Style.isolate`), each a run of its own, and the row's own
 * wording around them. The page shows each part in a `<bdi>` (log_view.ts):
 * a Hebrew message ending in "!" then ends on its left, as it reads, and
 * digits before Arabic stand on its right; left to right with the row's
 * wording, they stood on the wrong side, and a part could take the
 * punctuation around it into its order.
 *
 * @module
 */

import { sanitizeForTerminal } from "../text/sanitize.ts";
import { FSI, PDI } from "../client/render.ts";

/** A piece of a row's text, and whether it is a run of its own. */
export interface Run {
  text: string;
  isolated: boolean;
}

const MARKS = /([\u2068\u2069])/;
const MARKED = /\u2068([^\u2068\u2069]*)\u2069/g;

/**
 * `text` marked as a part a user wrote, for a row the page builds itself
 * (log_view.ts `runNodes`): a file's name in its file's rows. An FSI or PDI
 * in it (none in a name made safe by safeFileName, which strips format
 * characters) shows as `<U+2068>`, so the marks stay paired.
 */
export function marked(text: string): string {
  return FSI + text.replace(/[\u2068\u2069]/g, sanitizeForTerminal) + PDI;
}

/**
 * `line` (a message's, rendered with `lineBreaks` and `isolate`) made safe
 * as the log's rows are, each of its lines on its own (with `lineBreaks`
 * false, a line break shows as `^J`, as in any other row), but for the marks:
 * render.ts made the parts a user wrote safe before marking them, so any
 * FSI or PDI that came with them shows as `<U+2068>`, and the marks left
 * are render.ts's own.
 */
export function safeMarked(line: string, lineBreaks = true): string {
  return line.split(MARKS).map((piece) =>
    piece === FSI || piece === PDI
      ? piece
      : lineBreaks
      ? piece.split("\n").map(sanitizeForTerminal).join("\n")
      : sanitizeForTerminal(piece)
  ).join("");
}

/**
 * The runs of `line` (see safeMarked): a marked part is isolated, each of
 * its lines a run of its own (a message of several lines takes the
 * direction of each line's first letters, and the line breaks between them
 * stay the row's); the text between is not. A mark without its pair (none
 * that render.ts made) shows as text, not as an isolate of its own. The
 * runs' text together is `line` without the marks.
 */
export function runsOf(line: string): Run[] {
  const runs: Run[] = [];
  const add = (text: string, isolated: boolean) => {
    if (text === "") return;
    const last = runs.at(-1);
    if (!isolated && last !== undefined && !last.isolated) last.text += text;
    else runs.push({ text, isolated });
  };
  const plain = (text: string) =>
    add(text.replace(/[\u2068\u2069]/g, sanitizeForTerminal), false);
  let at = 0;
  for (const match of line.matchAll(MARKED)) {
    plain(line.slice(at, match.index));
    match[1]!.split("\n").forEach((text, i) => {
      if (i > 0) plain("\n");
      add(text, true);
    });
    at = match.index + match[0].length;
  }
  plain(line.slice(at));
  return runs;
}
