import type { Recipient } from "./store.ts";

/**
 * What a message waiting for a user costs the store besides its body: its
 * delivery row and that row's place in the index of waiting ones (a 1-byte
 * group message to 60 members takes about 2 KB).
 */
export const DELIVERY_COST = 64;

/** What waits: how many messages, and what they cost the store. */
interface Owed {
  count: number;
  bytes: number;
}

/**
 * What waits for one user, in all, and from the few senders followed
 * (MAX_SENDERS_FOLLOWED, by sender key: sender_groups.ts, which counts the
 * accounts made from one address as one sender): the rest is what the others sent,
 * none of whom can have sent more than `others` bytes of what waits.
 */
interface Mailbox extends Owed {
  readonly senders: Map<string, Owed>;
  /**
   * At most what any one sender not followed sent of what waits: the
   * heaviest of them when read from the store, and every message of one
   * since (any of them may have sent it all). 0: none waits.
   */
  others: number;
}

/**
 * Senders followed per user. A flood is one sender's (or a few accounts'):
 * it is always among them, and following every sender of every user would
 * keep a count per pair in memory (a thousand accounts each writing once to
 * a group of a thousand made a million).
 */
export const MAX_SENDERS_FOLLOWED = 8;

/**
 * How much each user is owed: the private and group messages that wait for
 * them (deliveries not yet marked done), counted and in bytes they cost the
 * store (each body and DELIVERY_COST for its delivery row). Kept in memory so
 * that a store at its cap can tell, without scanning millions of delivery
 * rows, whose waiting messages to give up first: those of the users owed the
 * most, so that accounts made only to be flooded lose their flood, and
 * everyone else keeps what waits for them; and of those, what the sender who
 * sent the user the most sent (heaviestSender), so that a real user flooded
 * while away loses the flood, not what others sent before it (store_cap.ts,
 * `#dropFromFullestMailboxes`).
 *
 * Exact in all: every change says the size of what it adds or takes away (an
 * estimate by average size let an account that acknowledged tiny messages
 * hide its flood, and big messages read at once swell a small backlog).
 * Exact by sender too: a sender is followed from its first message, while
 * all that waits is from those followed, or from when the store is read;
 * the others' messages are counted together, and once they may hold a
 * sender heavier than those followed, the store is read again
 * (heaviestSender). A new sender that took the place of the lightest let
 * two accounts taking turns push each other out at every message, the
 * flood never followed.
 */
export class OwedMailboxes {
  readonly #owed = new Map<string, Mailbox>();

  /** One more message from `fromKey` that costs `bytes` waits for the user. */
  add(userKey: string, bytes: number, fromKey: string): void {
    const mailbox = this.#mailbox(userKey);
    mailbox.count++;
    mailbox.bytes += bytes;
    const sender = mailbox.senders.get(fromKey);
    if (sender !== undefined) {
      sender.count++;
      sender.bytes += bytes;
      return;
    }
    // Followed from its first message if all that waits is from those
    // followed (so that this is its first), and there is room.
    if (mailbox.others === 0 && mailbox.senders.size < MAX_SENDERS_FOLLOWED) {
      mailbox.senders.set(fromKey, { count: 1, bytes });
    } else mailbox.others += bytes;
  }

  /**
   * `count` messages from `fromKey` that cost `bytes` together wait for the
   * user, all it sent of what waits, as read from the store, the heaviest
   * sender of each user first: followed while there is room. `fromKey`
   * null: those of the senders not followed, the heaviest of whom sent
   * `heaviest` bytes of them.
   */
  addFrom(
    userKey: string,
    fromKey: string | null,
    count: number,
    bytes: number,
    heaviest = bytes,
  ): void {
    if (count <= 0) return;
    const mailbox = this.#mailbox(userKey);
    mailbox.count += count;
    mailbox.bytes += bytes;
    if (fromKey !== null && mailbox.senders.size < MAX_SENDERS_FOLLOWED) {
      mailbox.senders.set(fromKey, { count, bytes });
    } else mailbox.others = Math.max(mailbox.others, heaviest);
  }

  /** One message from `fromKey` that cost `bytes` no longer waits for the user. */
  remove(userKey: string, bytes: number, fromKey: string): void {
    const mailbox = this.#owed.get(userKey);
    if (mailbox === undefined) return;
    if (mailbox.count <= 1) {
      this.#owed.delete(userKey);
      return;
    }
    less(mailbox, bytes);
    const sender = mailbox.senders.get(fromKey);
    if (sender === undefined) return;
    if (sender.count <= 1) mailbox.senders.delete(fromKey);
    else less(sender, bytes);
  }

  /** Nothing waits for the user any more, before it is read again. */
  clear(userKey: string): void {
    this.#owed.delete(userKey);
  }

  /** Forgets everything, before the whole table is read again. */
  reset(): void {
    this.#owed.clear();
  }

  /**
   * Who sent the user the most bytes of what waits for them; undefined
   * when nothing waits, or when it cannot be told without reading the
   * store again (recountOwed): none followed has anything left, or one not
   * followed may have sent more than any followed.
   */
  heaviestSender(userKey: string): string | undefined {
    const mailbox = this.#owed.get(userKey);
    if (mailbox === undefined) return undefined;
    let heaviest: string | undefined;
    let most = -1;
    for (const [fromKey, owed] of mailbox.senders) {
      if (owed.bytes > most) [heaviest, most] = [fromKey, owed.bytes];
    }
    return most >= mailbox.others ? heaviest : undefined;
  }

  #mailbox(userKey: string): Mailbox {
    let mailbox = this.#owed.get(userKey);
    if (mailbox === undefined) {
      mailbox = { count: 0, bytes: 0, senders: new Map(), others: 0 };
      this.#owed.set(userKey, mailbox);
    }
    return mailbox;
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

/**
 * One message that cost `bytes` taken off `owed` (one of several): what
 * is left costs its delivery row at least.
 */
function less(owed: Owed, bytes: number): void {
  owed.count--;
  owed.bytes = Math.max(DELIVERY_COST, owed.bytes - bytes);
}
