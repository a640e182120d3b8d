/**
 * Whom a store at its cap counts as one sender when it chooses whose waiting
 * messages to give up (store_cap.ts): the accounts registered from one
 * address group (server/address_group.ts's lastingGroup: an IPv4 address,
 * an IPv6 /64) together, an account with none recorded (registered before
 * migration 13, or on another node of a cluster) alone.
 *
 * Why by address, not by account: a name is cheap (30 at once and 10 a
 * minute per address, sign_in.ts), so counted one by one, 200 names each
 * sending an offline user 10 KB were each lighter than a friend's 100 KB,
 * and the friend lost 96 of 100 messages while the flood stayed. Counted
 * by where they were made, they are one 2 MB sender, and go first. The
 * price: a class behind one NAT address is one group too, so its members'
 * messages are weighed together against everyone else's (among themselves,
 * by sender: store_cap.ts's HEAVIEST_IN_GROUP_SQL). Within a group,
 * accounts weigh one by one, as before: on an IPv6 LAN every on-link peer
 * is in the server's /64, one group, so there 200 cheap names still
 * outweigh a friend on the same /64 (sender_groups_test.ts, ignored).
 */

import type { Transactions } from "./transactions.ts";

/** A sender key of an account alone: "n " and its name key. */
const ALONE = "n ";
/** A sender key of an address group: "a " and the group. */
const GROUPED = "a ";

/**
 * The SQL for a message's sender key, as `weightOf` gives it, with the
 * message as `m` and its sender's row of users as `u` (LEFT JOIN).
 */
export const SENDER_KEY_SQL =
  `coalesce('${GROUPED}' || u.registered_from, '${ALONE}' || m.from_key)`;

/** The address group of a sender key, or null for an account alone. */
export function groupOfSenderKey(senderKey: string): string | null {
  return senderKey.startsWith(GROUPED) ? senderKey.slice(GROUPED.length) : null;
}

/** The name key of a sender key of an account alone, else null. */
export function accountOfSenderKey(senderKey: string): string | null {
  return senderKey.startsWith(ALONE) ? senderKey.slice(ALONE.length) : null;
}

export class SenderGroups {
  readonly #tx: Transactions;
  /**
   * Sender keys looked up, by name key: one entry per account that sent a
   * message while there is a cap (accounts are bounded by the new-name
   * budgets). Cleared after a rollback, which may undo a `note`.
   */
  readonly #keys = new Map<string, string>();

  constructor(tx: Transactions) {
    this.#tx = tx;
  }

  /** The key `fromKey`'s messages are weighed under. */
  weightOf(fromKey: string): string {
    let key = this.#keys.get(fromKey);
    if (key === undefined) {
      const row = this.#tx.get(
        "SELECT registered_from FROM users WHERE name_key = ?",
        fromKey,
      );
      const group = row?.registered_from;
      key = typeof group === "string" ? GROUPED + group : ALONE + fromKey;
      this.#keys.set(fromKey, key);
    }
    return key;
  }

  /**
   * Records the address group a new account was registered from, once
   * (later sign-ins from elsewhere do not move it: a flood's accounts must
   * not leave their group by signing in again from another address). Noted
   * when the account is new, before it sent anything, so what waits for
   * anyone is weighed as it was.
   */
  note(nameKey: string, group: string): void {
    this.#tx.run(
      `UPDATE users SET registered_from = ?
       WHERE name_key = ? AND registered_from IS NULL`,
      group,
      nameKey,
    );
    this.#keys.delete(nameKey);
  }

  /** A rollback may have undone a `note`. */
  forget(): void {
    this.#keys.clear();
  }
}
