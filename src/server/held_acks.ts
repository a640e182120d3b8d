// This module is browser compatible.

/**
 * Acknowledgements a connection sent past its rate limit. Dropping them
 * would leave what they cover waiting, and a fresh client process of the
 * same user (which has no memory of what was shown) would show it all again
 * at its next sign-in: acknowledged messages, shown twice. So they are held,
 * one cursor per conversation (the highest seq), and applied with the next
 * acknowledgement that gets through, on their own once the rate allows
 * (connection_loop.ts), or when the connection ends. Holding
 * costs no store work, and the number held is bounded: a connection cannot
 * grow it by naming endless conversations.
 */

import { nameKey } from "../protocol/limits.ts";
import { type Cursor, MAX_ACK_CURSORS } from "../protocol/messages.ts";

/** The most conversations held per connection; past it, new ones are dropped. */
export const MAX_HELD_CURSORS = 4 * MAX_ACK_CURSORS;

export class HeldAcks {
  #cursors = new Map<string, Cursor>();

  /** Merges cursors in, keeping the highest seq of each conversation. */
  hold(cursors: readonly Cursor[]): void {
    for (const cursor of cursors) {
      const key = "to" in cursor
        ? `p ${nameKey(cursor.to)}`
        : `g ${nameKey(cursor.group)}`;
      const held = this.#cursors.get(key);
      if (held === undefined) {
        // What is dropped here waits for the next sign-in, as before.
        if (this.#cursors.size >= MAX_HELD_CURSORS) continue;
      } else if (held.seq >= cursor.seq) continue;
      this.#cursors.set(key, cursor);
    }
  }

  get size(): number {
    return this.#cursors.size;
  }

  /** Everything held, as `ack` cursor lists of at most MAX_ACK_CURSORS; then empty. */
  take(): Cursor[][] {
    const all = [...this.#cursors.values()];
    this.#cursors.clear();
    const lists: Cursor[][] = [];
    for (let i = 0; i < all.length; i += MAX_ACK_CURSORS) {
      lists.push(all.slice(i, i + MAX_ACK_CURSORS));
    }
    return lists;
  }
}
