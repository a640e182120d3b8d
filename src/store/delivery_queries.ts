/**
 * Who still waits for which private and group messages: deliveries marked
 * done one by one or a conversation at a time, put back after a client lost
 * them, and read in order for a user signing in. With a cap, each change
 * tells the cap (store_cap.ts) what the user is owed now.
 */

import type { SQLInputValue } from "node:sqlite";
import type { Conversation, StoredMessage } from "./store.ts";
import { checkLimit, MESSAGE_SELECT, toMessage } from "./rows.ts";
import type { StoreCap } from "./store_cap.ts";
import type { Transactions } from "./transactions.ts";

/**
 * Added to an UPDATE of deliveries: each row's message, its body's size and
 * its sender.
 */
const RETURNING_SIZES = `
  RETURNING message_id,
    (SELECT length(body) FROM messages WHERE id = message_id) AS bytes,
    (SELECT from_key FROM messages WHERE id = message_id) AS from_key`;

export class DeliveryQueries {
  readonly #tx: Transactions;
  readonly #cap: StoreCap;

  constructor(tx: Transactions, cap: StoreCap) {
    this.#tx = tx;
    this.#cap = cap;
  }

  acknowledge(
    userKey: string,
    conversation: Conversation,
    seq: number,
    maxId = Number.MAX_SAFE_INTEGER,
  ): number {
    // Only the user's waiting deliveries are read (the partial index), not
    // the conversation's history.
    const [where, key] = conversation.kind === "group"
      ? ["m.kind = 'group' AND m.group_key = ?", conversation.groupKey]
      : ["m.kind = 'private' AND m.from_key = ?", conversation.otherKey];
    return this.#delivered(
      userKey,
      `UPDATE deliveries SET delivered = 1
       WHERE user_key = ? AND delivered = 0 AND message_id IN (
         SELECT d.message_id FROM deliveries d
         JOIN messages m ON m.id = d.message_id
         WHERE d.user_key = ? AND d.delivered = 0 AND ${where}
           AND m.seq <= ? AND m.id <= ?)`,
      userKey,
      userKey,
      key,
      seq,
      maxId,
    );
  }

  markDelivered(messageId: number, userKey: string): boolean {
    return this.#delivered(
      userKey,
      `UPDATE deliveries SET delivered = 1
       WHERE message_id = ? AND user_key = ? AND delivered = 0`,
      messageId,
      userKey,
    ) > 0;
  }

  /**
   * Runs an UPDATE that marks the user's deliveries done, and returns how
   * many. With a cap, it also says which messages and their sizes: what
   * the user is owed goes down by exactly those, and the messages may now
   * be owed to no one (room). Without one, a plain run: nothing to count.
   */
  #delivered(userKey: string, sql: string, ...params: SQLInputValue[]): number {
    if (!this.#cap.enabled) {
      const changes = this.#tx.run(sql, ...params);
      if (changes > 0) this.#cap.mayHaveRoom();
      return changes;
    }
    const rows = this.#tx.all(`${sql} ${RETURNING_SIZES}`, ...params);
    if (rows.length === 0) return 0;
    this.#cap.delivered(userKey, rows);
    return rows.length;
  }

  /**
   * Deletes every delivery of the user, waiting or done (a released name:
   * they were its old key's, and a requeue would make done ones wait
   * again); returns how many were waiting.
   */
  forget(userKey: string): number {
    // `delivered = 0` as a literal lets SQLite use the partial index.
    const waiting = this.#delivered(
      userKey,
      "DELETE FROM deliveries WHERE user_key = ? AND delivered = 0",
      userKey,
    );
    this.#tx.run("DELETE FROM deliveries WHERE user_key = ?", userKey);
    return waiting;
  }

  /**
   * Deletes the user's deliveries of messages at or below `lastId`, waiting
   * or done (a cluster's cut of a released name: Store.cutOldKeys); returns
   * how many were waiting.
   */
  forgetUpTo(userKey: string, lastId: number): number {
    const waiting = this.#delivered(
      userKey,
      `DELETE FROM deliveries
       WHERE user_key = ? AND delivered = 0 AND message_id <= ?`,
      userKey,
      lastId,
    );
    this.#tx.run(
      "DELETE FROM deliveries WHERE user_key = ? AND message_id <= ?",
      userKey,
      lastId,
    );
    return waiting;
  }

  /**
   * Deletes the user's deliveries of the group's messages stored since the
   * name's last release (Store.forgetGroupSinceRelease); returns how many
   * were waiting.
   */
  forgetGroupSinceRelease(userKey: string, groupKey: string): number {
    const since = `message_id IN (
      SELECT id FROM messages
      WHERE kind = 'group' AND group_key = ? AND id > (
        SELECT released_below FROM users WHERE name_key = ?))`;
    const waiting = this.#delivered(
      userKey,
      `DELETE FROM deliveries
       WHERE user_key = ? AND delivered = 0 AND ${since}`,
      userKey,
      groupKey,
      userKey,
    );
    this.#tx.run(
      `DELETE FROM deliveries WHERE user_key = ? AND ${since}`,
      userKey,
      groupKey,
      userKey,
    );
    return waiting;
  }

  requeueSince(userKey: string, since: number): number {
    const requeued = this.#tx.run(
      // `kind <> 'public'` as a literal lets SQLite use the partial index.
      `UPDATE deliveries SET delivered = 0
       WHERE user_key = ? AND delivered = 1
         AND message_id IN (
           SELECT id FROM messages WHERE kind <> 'public' AND ts >= ?)`,
      userKey,
      since,
    );
    if (requeued > 0) this.#cap.recountOwed(userKey);
    return requeued;
  }

  pendingFor(userKey: string, limit: number, afterId = 0): StoredMessage[] {
    checkLimit(limit);
    // `delivered = 0` as a literal lets SQLite use the partial index.
    return this.#tx.all(
      `${MESSAGE_SELECT}
       JOIN deliveries d ON d.message_id = m.id
       WHERE d.user_key = ? AND d.delivered = 0 AND d.message_id > ?
       ORDER BY d.message_id
       LIMIT ?`,
      userKey,
      afterId,
      limit,
    ).map(toMessage);
  }
}
