// This module is browser compatible.

/**
 * `@sophia` in someone's message: whether it names the reader, and the text
 * with those mentions highlighted. Works on text already made safe for the
 * terminal (sanitize.ts): names are plain ASCII, which sanitising never
 * changes, and the highlight adds only its own SGR codes.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";

/** Reverse video and bold: seen on any terminal, whatever its colours. */
const HIGHLIGHT = "\x1b[1;7m";
const RESET = "\x1b[0m";

/** Characters a name may contain; a mention ends at the first other one. */
const NAME_CHAR = /[A-Za-z0-9_.-]/;

/** Where `@name` mentions of `self` are in `text`, as [start, end) of the `@name`. */
function mentionSpans(text: string, self: string): Array<[number, number]> {
  const key = nameKey(self);
  const spans: Array<[number, number]> = [];
  if (key === "") return spans;
  let from = 0;
  for (;;) {
    const at = text.indexOf("@", from);
    if (at < 0) return spans;
    from = at + 1;
    // `me@sophia.example` is an address, not a mention.
    if (at > 0 && NAME_CHAR.test(text[at - 1]!)) continue;
    let end = at + 1;
    while (end < text.length && NAME_CHAR.test(text[end]!)) end++;
    // A sentence may end right after the name: `thanks @sophia.`
    let name = text.slice(at + 1, end);
    while (name.endsWith(".") && nameKey(name) !== key) {
      name = name.slice(0, -1);
      end--;
    }
    if (nameKey(name) === key) spans.push([at, end]);
  }
}

/** Whether `text` mentions `self` as `@self` (any case). */
export function mentions(text: string, self: string): boolean {
  return mentionSpans(text, self).length > 0;
}

/**
 * `text` (already sanitised) with each `@self` in reverse bold when `color`;
 * unchanged otherwise.
 */
export function highlightMentions(
  text: string,
  self: string,
  color: boolean,
): string {
  if (!color) return text;
  let out = "";
  let last = 0;
  for (const [start, end] of mentionSpans(text, self)) {
    out += text.slice(last, start) + HIGHLIGHT + text.slice(start, end) +
      RESET;
    last = end;
  }
  return out + text.slice(last);
}
