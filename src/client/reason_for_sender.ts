// This module is browser compatible.

/**
 * A reason for not taking a file, as the receiving client writes it for its
 * sender: the server cuts one to MAX_DECLINED_REASON_CHARS (PROTOCOL.md
 * 7.1), which left a longer one (a file's long name in it, say) cut in the
 * middle of a word, with nothing to show that more was said. The terminal
 * and the page cut it themselves, at a word, and end it with "...".
 *
 * @module
 */

import { MAX_DECLINED_REASON_CHARS } from "../protocol/limits.ts";

/** What marks a reason cut short: ASCII, which the server passes as it is. */
const CUT = "...";

/**
 * `reason` as it fits the server's cut: whole when it does, else cut at
 * the last space that leaves room for "..." (at the limit, with no space
 * in reach) and ended with it.
 */
export function reasonForSender(
  reason: string,
  max = MAX_DECLINED_REASON_CHARS,
): string {
  if (reason.length <= max) return reason;
  const room = reason.slice(0, max - CUT.length + 1);
  const space = room.lastIndexOf(" ");
  // A word longer than half the room (a long file name) is cut inside it.
  const end = space > room.length / 2 ? space : max - CUT.length;
  return reason.slice(0, end).replace(/[\s,:;.]+$/, "") + CUT;
}
