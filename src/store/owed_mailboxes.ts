/**
 * How much each user is owed: the private and group messages that wait for
 * them (deliveries not yet marked done), counted and in bytes of body. Kept
 * in memory so that a store at its cap can tell, without scanning millions
 * of delivery rows, whose waiting messages to give up first: those of the
 * users owed the most, so that accounts made only to be flooded lose their
 * flood, and everyone else keeps what waits for them (sqlite_store.ts,
 * `#dropFromFullestMailboxes`).
 *
 * An estimate, by design: a message handed over by count (an `ack`, a
 * delivery marked done) takes away the user's average size, not its own,
 * which would cost a read of every body on the hot path. Exact again for
 * a user whose count reaches zero, and after `reset`.
 */
export class OwedMailboxes {
  readonly #owed = new Map<string, { count: number; bytes: number }>();

  /** One more message of `bytes` waits for the user. */
  add(userKey: string, bytes: number): void {
    const owed = this.#owed.get(userKey);
    if (owed === undefined) this.#owed.set(userKey, { count: 1, bytes });
    else {
      owed.count++;
      owed.bytes += bytes;
    }
  }

  /** `count` of the user's messages reached them, sizes unknown. */
  handedOver(userKey: string, count: number): void {
    const owed = this.#owed.get(userKey);
    if (owed === undefined || count <= 0) return;
    if (count >= owed.count) {
      this.#owed.delete(userKey);
      return;
    }
    owed.bytes -= owed.bytes * (count / owed.count);
    owed.count -= count;
  }

  /** One message of `bytes` no longer waits for the user (its size known). */
  remove(userKey: string, bytes: number): void {
    const owed = this.#owed.get(userKey);
    if (owed === undefined) return;
    if (owed.count <= 1) {
      this.#owed.delete(userKey);
      return;
    }
    owed.count--;
    owed.bytes = Math.max(0, owed.bytes - bytes);
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
