/**
 * The client ids of stored messages, by which a retry is recognised: in
 * memory (recent_client_ids.ts) for `sentWithClientId`, and in the table
 * sent_ids, held and written with public rows (transactions.ts), for the
 * next start, which loads the newest back into memory.
 */

import type { StatementSync } from "node:sqlite";
import type { MessagePosition } from "./store.ts";
import { keptAfterTrim, RecentClientIds } from "./recent_client_ids.ts";
import type { Transactions } from "./transactions.ts";

/**
 * How many client ids (of the newest messages sent with one) the store keeps
 * to recognise retries, the whole server's: past it the oldest of the
 * senders holding the most are forgotten (recent_client_ids.ts).
 */
export const SENT_IDS_KEPT = 100_000;

/**
 * What each sender is sure to keep at least, while no more than
 * SENT_IDS_SENDERS_SURE senders have ids kept: more lines than a client can
 * have sent without an answer when its connection ends. The reference
 * client sends again at most the 256 lines it keeps sealed for a retry
 * (sealed_retries.ts, MAX_SEALED_KEPT); a script's lines go one at a time;
 * and the server answers a connection's lines past its burst (40) and rate
 * (20 a second) with `slow_down`, which stores nothing. docs/PROTOCOL.md 5.9
 * states it.
 */
export const SENT_IDS_PER_SENDER = 256;

/**
 * How many senders may have ids kept with each sure of its last
 * SENT_IDS_PER_SENDER: what a forgetting leaves (98,438) over that, 384.
 */
export const SENT_IDS_SENDERS_SURE = Math.floor(
  keptAfterTrim(SENT_IDS_KEPT) / SENT_IDS_PER_SENDER,
);

export class SentIds {
  readonly #tx: Transactions;
  /** The newest of sent_ids. */
  readonly #recent: RecentClientIds;
  /**
   * Rows deleted inside a transaction not committed yet, with the mark
   * after which each delete came: a rollback to before it brings the rows
   * back, and they are deleted again.
   */
  #deletedUncommitted: { mark: number; ids: number[] }[] = [];

  constructor(tx: Transactions, kept: number) {
    this.#tx = tx;
    this.#recent = new RecentClientIds(kept);
  }

  /**
   * The client ids kept, from the table to memory, by the same rule as
   * memory's: the table holds what memory did, and the rows forgotten
   * since the last delete (fewer than the capacity).
   */
  load(): void {
    // Rows as arrays, not objects: half the time for 100,000 of them (once
    // per start, before the server listens). Its own statement: the shared
    // ones return objects.
    const statement = this.#tx.guard(() =>
      this.#tx.prepareUncached(
        `SELECT message_id, seq, from_key, client_id FROM sent_ids
         ORDER BY message_id DESC LIMIT ?`,
      )
    );
    // In node:sqlite (Deno 2.9.6), not yet in its types.
    (statement as StatementSync & { setReturnArrays(on: boolean): void })
      .setReturnArrays(true);
    const rows = this.#tx.guard(() =>
      statement.all(2 * this.#recent.capacity)
    ) as unknown as unknown[][];
    for (let i = rows.length - 1; i >= 0; i--) {
      const [id, seq, fromKey, clientId] = rows[i]!;
      if (
        typeof id !== "number" || typeof seq !== "number" ||
        typeof fromKey !== "string" || typeof clientId !== "string"
      ) {
        throw new TypeError(`sent_ids row ${String(id)} has a wrong type`);
      }
      this.#recent.add(fromKey, clientId, { id, seq });
    }
    this.#recent.settle();
    // Older than what was read: only a table written by an older version
    // (one first in, first out for the whole server) holds such rows.
    const oldest = rows.at(-1)?.[0];
    if (typeof oldest === "number") {
      this.#tx.run("DELETE FROM sent_ids WHERE message_id < ?", oldest);
    }
    this.#deleteForgotten();
  }

  /** Where the sender's message with this client id went, if kept. */
  get(fromKey: string, clientId: string): MessagePosition | undefined {
    // In memory, so that the check reads nothing and writes no held row.
    return this.#recent.get(fromKey, clientId);
  }

  /**
   * Remembers a message's client id, in memory and in sent_ids, held like
   * public rows. After memory forgets some (once in capacity / 64 ids, the
   * senders holding the most), the table forgets the same rows: a retry
   * comes within seconds of the first try, and the table stays a few
   * megabytes at most.
   */
  record(
    fromKey: string,
    clientId: string,
    position: MessagePosition,
  ): void {
    // The first position stays (the store test "client ids recorded in a
    // transaction ..." pins it).
    const mark = this.#recent.mark();
    if (!this.#recent.add(fromKey, clientId, position)) return;
    try {
      this.#tx.holdSentId(position.id, position.seq, fromKey, clientId);
    } catch (error) {
      // Inside a transaction, its rollback undoes it.
      if (!this.#tx.active) this.#recent.undoTo(mark);
      throw error;
    }
    if (!this.#tx.active) this.#recent.settle();
    if (this.#recent.hasForgotten) this.#deleteForgotten();
  }

  /**
   * Deletes the rows memory forgot, by their primary key, in one statement
   * (finding a cut-off by an OFFSET costs a step per message skipped).
   */
  #deleteForgotten(): void {
    const ids = this.#recent.takeForgotten();
    if (ids.length === 0) return;
    try {
      this.#tx.run(
        "DELETE FROM sent_ids WHERE message_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(ids),
      );
    } catch (error) {
      this.#recent.giveBackForgotten(ids);
      throw error;
    }
    if (this.#tx.active) {
      this.#deletedUncommitted.push({ mark: this.#recent.mark(), ids });
    }
  }

  /** Before a transaction or savepoint: what `undoTo` goes back to. */
  mark(): number {
    return this.#recent.mark();
  }

  /** The transaction or savepoint begun at `mark` was undone. */
  undoTo(mark: number): void {
    this.#recent.undoTo(mark);
    const deleted = this.#deletedUncommitted;
    while (deleted.length > 0 && deleted.at(-1)!.mark > mark) {
      this.#recent.giveBackForgotten(deleted.pop()!.ids);
    }
  }

  /** The outermost transaction committed. */
  settle(): void {
    this.#recent.settle();
    this.#deletedUncommitted.length = 0;
  }
}
