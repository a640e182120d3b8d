/**
 * The client ids of stored messages, by which a retry is recognised: in
 * memory (recent_client_ids.ts) for `sentWithClientId`, and in the table
 * sent_ids, held and written with public rows (transactions.ts), for the
 * next start, which loads the newest back into memory.
 */

import type { StatementSync } from "node:sqlite";
import type { MessagePosition } from "./store.ts";
import { RecentClientIds } from "./recent_client_ids.ts";
import type { Transactions } from "./transactions.ts";

/**
 * How many client ids (of the newest messages sent with one) the store keeps
 * to recognise retries, and how often it forgets older ones.
 */
export const SENT_IDS_KEPT = 100_000;
const SENT_IDS_TRIM_EVERY = 1024;

export class SentIds {
  readonly #tx: Transactions;
  /** The newest of sent_ids. */
  readonly #recent: RecentClientIds;
  /** Client ids recorded since sent_ids was last trimmed. */
  #sinceTrim = 0;

  constructor(tx: Transactions, kept: number) {
    this.#tx = tx;
    this.#recent = new RecentClientIds(kept);
  }

  /** The newest client ids, as many as are kept, from the table to memory. */
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
      statement.all(this.#recent.capacity)
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
  }

  /** Where the sender's message with this client id went, if kept. */
  get(fromKey: string, clientId: string): MessagePosition | undefined {
    // In memory, so that the check reads nothing and writes no held row.
    return this.#recent.get(fromKey, clientId);
  }

  /**
   * Remembers a message's client id, in memory and in sent_ids, held like
   * public rows. Every SENT_IDS_TRIM_EVERY of them the table forgets what
   * memory has forgotten (the oldest beyond SENT_IDS_KEPT): a retry comes
   * within seconds of the first try, and the table stays a few megabytes at
   * most.
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
    if (++this.#sinceTrim < SENT_IDS_TRIM_EVERY) return;
    this.#sinceTrim = 0;
    // By the primary key: finding the cut-off in the table (an OFFSET of
    // SENT_IDS_KEPT rows) cost about 7 µs a message.
    const forgottenBefore = this.#recent.forgottenBefore();
    if (forgottenBefore === undefined) return;
    this.#tx.run("DELETE FROM sent_ids WHERE message_id < ?", forgottenBefore);
  }

  /** Before a transaction or savepoint: what `undoTo` goes back to. */
  mark(): number {
    return this.#recent.mark();
  }

  /** The transaction or savepoint begun at `mark` was undone. */
  undoTo(mark: number): void {
    this.#recent.undoTo(mark);
  }

  /** The outermost transaction committed. */
  settle(): void {
    this.#recent.settle();
  }
}
