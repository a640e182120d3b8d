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
 * (`senders`: the sender of each), or null when it can.
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
    return `${MAX_RECEIVING} files are coming in already`;
  }
  if (theirs >= MAX_RECEIVING_PER_SENDER) {
    return `${MAX_RECEIVING_PER_SENDER} files from ${from} are coming in already (the most one sender may have at once)`;
  }
  return null;
}
