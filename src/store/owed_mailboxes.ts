import type { Recipient } from "./store.ts";

/**
 * What a message waiting for a user costs the store besides its body: its
 * delivery row and that row's place in the index of waiting ones (a 1-byte
 * group message to 60 members takes about 2 KB).
 */
export const DELIVERY_COST = 64;

/**
 * How much each user is owed: the private and group messages that wait for
 * them (deliveries not yet marked done), counted and in bytes they cost the
 * store (each body and DELIVERY_COST for its delivery row). Kept
 * in memory so that a store at its cap can tell, without scanning millions
 * of delivery rows, whose waiting messages to give up first: those of the
 * users owed the most, so that accounts made only to be flooded lose their
 * flood, and everyone else keeps what waits for them (store_cap.ts,
 * `#dropFromFullestMailboxes`).
 *
 * Exact: every change says the size of what it adds or takes away (an
 * estimate by average size let an account that acknowledged tiny messages
 * hide its flood, and big messages read at once swell a small backlog).
 */
export class OwedMailboxes {
  readonly #owed = new Map<string, { count: number; bytes: number }>();

  /** One more message that costs `bytes` waits for the user. */
  add(userKey: string, bytes: number): void {
    const owed = this.#owed.get(userKey);
    if (owed === undefined) this.#owed.set(userKey, { count: 1, bytes });
    else {
      owed.count++;
      owed.bytes += bytes;
    }
  }

  /** One message that cost `bytes` no longer waits for the user. */
  remove(userKey: string, bytes: number): void {
    const owed = this.#owed.get(userKey);
    if (owed === undefined) return;
    if (owed.count <= 1) {
      this.#owed.delete(userKey);
      return;
    }
    owed.count--;
    owed.bytes = Math.max(DELIVERY_COST, owed.bytes - bytes);
  }

  /** What waits for the user, as read from the store. */
  set(userKey: string, count: number, bytes: number): void {
    if (count > 0) this.#owed.set(userKey, { count, bytes });
    else this.#owed.delete(userKey);
  }

  /** Forgets everything, before the whole table is read again. */
  reset(): void {
    this.#owed.clear();
  }

  /** What the user is owed: zeros for no one. */
  of(userKey: string): { count: number; bytes: number } {
    const owed = this.#owed.get(userKey);
    return owed === undefined
      ? { count: 0, bytes: 0 }
      : { count: owed.count, bytes: owed.bytes };
  }

  /**
   * The users owed at least `share` of the most any user is owed in bytes,
   * most first, at most `limit` of them: whose waiting messages go first
   * when something must. A share, not only the largest, so that the members
   * of one flooded group (owed alike) give up the same messages together,
   * which frees them.
   */
  fullest(share: number, limit: number): { userKey: string; bytes: number }[] {
    let most = 0;
    for (const owed of this.#owed.values()) most = Math.max(most, owed.bytes);
    if (most <= 0) return [];
    const floor = most * share;
    const out: { userKey: string; bytes: number }[] = [];
    for (const [userKey, owed] of this.#owed) {
      if (owed.bytes >= floor) out.push({ userKey, bytes: owed.bytes });
    }
    out.sort((a, b) => b.bytes - a.bytes);
    return out.slice(0, limit);
  }
}

/**
 * Whom a new message waits for, by user: a recipient not yet delivered to.
 * One listed twice waits only if both entries say so (its delivery row is
 * marked delivered if either does).
 */
export function waitingRecipients(
  recipients: readonly Recipient[],
): Map<string, boolean> {
  const waits = new Map<string, boolean>();
  for (const recipient of recipients) {
    waits.set(
      recipient.userKey,
      (waits.get(recipient.userKey) ?? true) && !recipient.delivered,
    );
  }
  return waits;
}
