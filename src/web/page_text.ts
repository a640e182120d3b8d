// This module is browser compatible.

/**
 * Text the page shows outside the log's rows, in one-line places: the
 * status bar, the sign-in form's error, the line at the top of the log. Much
 * of it quotes the server (its refusals, why it ended the connection, an
 * error's message), so it is made safe as the log's rows are (main.ts
 * `emit`): a bidi override, a newline or an escape from the network would
 * otherwise reorder or forge what the reader sees there, and a server's text
 * may be as long as a message (4096 characters), which would bury the page
 * under a bar meant for a line.
 *
 * @module
 */

import { sanitizeForTerminal } from "../text/sanitize.ts";

/**
 * The longest text shown in such a place, in UTF-16 units: every sentence
 * the page writes there itself fits whole (the longest, the changed server
 * key's warning, is under 500); a longer one came from elsewhere.
 */
export const MAX_PAGE_TEXT_CHARS = 1000;

/**
 * `text` as the page shows it outside the log: controls, bidi and invisible
 * characters made visible (sanitizeForTerminal), and cut after
 * {@linkcode MAX_PAGE_TEXT_CHARS} with `…` marking the cut.
 */
export function pageText(text: string): string {
  const safe = sanitizeForTerminal(text);
  if (safe.length <= MAX_PAGE_TEXT_CHARS) return safe;
  let end = MAX_PAGE_TEXT_CHARS;
  // Never between the halves of a surrogate pair: half an emoji is a lone
  // surrogate, which the page would draw as a replacement character.
  const last = safe.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${safe.slice(0, end)}…`;
}
