// This module is browser compatible.

/**
 * How many files a client takes in at once, and each sender's share of
 * them: the terminal's FileReceiver and the web page's WebFiles refuse an
 * offer past either (the question and a staging buffer, or the file in
 * memory, held for each until it ends).
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";

/** Files asked about or coming in at once, at most (as questions: 32). */
export const MAX_RECEIVING = 32;

/**
 * Of those, from one sender at most: an eighth. The server lets each user
 * offer 8 at once, so without a share 4 accounts filled every place (offers
 * whose keys never come, say) and a friend's file was refused as busy;
 * now it takes 8.
 */
export const MAX_RECEIVING_PER_SENDER = 4;

/**
 * Why an offer from `from` cannot be taken beside the files coming in now
 * (`senders`: the sender of each), or null when it can: the reason the sender
 * reads too. It names neither the file (whose name may have gone end to end,
 * the offer holding only a placeholder) nor the sender, and so stays within
 * the 100 characters of a reason the server passes on (docs/PROTOCOL.md 5.6,
 * `file_ready`) whatever their names: what to do about it is its end, and was
 * cut off.
 */
export function receivingRefusal(
  from: string,
  senders: Iterable<string>,
): string | null {
  const key = nameKey(from);
  let all = 0;
  let theirs = 0;
  for (const sender of senders) {
    all++;
    if (nameKey(sender) === key) theirs++;
  }
  if (all >= MAX_RECEIVING) {
    return `${MAX_RECEIVING} files are coming in already, the most at once: send it again once one is done`;
  }
  if (theirs >= MAX_RECEIVING_PER_SENDER) {
    return `${MAX_RECEIVING_PER_SENDER} files from this sender are coming in already, the most at once: send it again once one is done`;
  }
  return null;
}
