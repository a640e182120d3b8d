/**
 * The store's record of file transfers: who offered what to whom, and how
 * each ended (history for tools; no reply reads it).
 */

import {
  type NewTransfer,
  TRANSFER_INTERRUPTED,
  type TransferRecord,
  type TransferResult,
} from "./store.ts";
import type { Timestamp } from "../protocol/messages.ts";
import {
  checkLimit,
  integer,
  integerOrNull,
  text,
  textOrNull,
} from "./rows.ts";
import type { Transactions } from "./transactions.ts";

/**
 * Transfer records kept, the newest: a record is history no reply reads,
 * and each may hold a name of 1024 characters and an outcome per recipient.
 */
export const TRANSFERS_KEPT = 1000;
/** A transfer's recorded outcome is cut to this many characters. */
export const MAX_OUTCOME_CHARS = 4096;

export class TransferQueries {
  readonly #tx: Transactions;

  constructor(tx: Transactions) {
    this.#tx = tx;
  }

  recordTransfer(transfer: NewTransfer): number {
    const toKey = "toKey" in transfer ? transfer.toKey : null;
    const groupKey = "groupKey" in transfer ? transfer.groupKey : null;
    return this.#tx.transaction(() => {
      // Wire ids restart with the server, so an unfinished record with this
      // id is from a run that ended before the transfer did. Its true end is
      // unknown; this start is the latest it can have been.
      this.#tx.run(
        `UPDATE transfers SET finished_at = ?, outcome = ?
         WHERE xfer_id = ? AND finished_at IS NULL`,
        transfer.startedAt,
        TRANSFER_INTERRUPTED,
        transfer.id,
      );
      const row = this.#tx.get(
        `INSERT INTO transfers
           (xfer_id, from_key, name, size, to_key, group_key, started_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         RETURNING id`,
        transfer.id,
        transfer.fromKey,
        transfer.name,
        transfer.size,
        toKey,
        groupKey,
        transfer.startedAt,
      );
      if (row === undefined) {
        throw new Error("INSERT ... RETURNING gave no row");
      }
      const recordId = integer(row, "id");
      // Only the newest are kept: anyone may offer files, and every offer
      // would otherwise take room that the store's cap then takes back from
      // the messages.
      this.#tx.run(
        "DELETE FROM transfers WHERE id <= ? AND finished_at IS NOT NULL",
        recordId - TRANSFERS_KEPT,
      );
      return recordId;
    });
  }

  finishTransfer(id: number, result: TransferResult): boolean {
    const outcome = clip(result.outcome, MAX_OUTCOME_CHARS);
    return this.#tx.run(
      `UPDATE transfers SET finished_at = ?, outcome = ?
       WHERE xfer_id = ? AND finished_at IS NULL`,
      result.finishedAt,
      outcome,
      id,
    ) > 0;
  }

  interruptTransfers(at: Timestamp): number {
    return this.#tx.run(
      `UPDATE transfers SET finished_at = ?, outcome = ?
       WHERE finished_at IS NULL`,
      at,
      TRANSFER_INTERRUPTED,
    );
  }

  recentTransfers(limit: number): TransferRecord[] {
    checkLimit(limit);
    return this.#tx.all(
      `SELECT id, xfer_id, from_key, name, size, to_key, group_key,
              started_at, finished_at, outcome
       FROM transfers ORDER BY id DESC LIMIT ?`,
      limit,
    ).reverse().map((row) => ({
      recordId: integer(row, "id"),
      id: integer(row, "xfer_id"),
      fromKey: text(row, "from_key"),
      name: text(row, "name"),
      size: integer(row, "size"),
      toKey: textOrNull(row, "to_key"),
      groupKey: textOrNull(row, "group_key"),
      startedAt: integer(row, "started_at"),
      finishedAt: integerOrNull(row, "finished_at"),
      outcome: textOrNull(row, "outcome"),
    }));
  }
}

/** `text` cut to at most `chars` UTF-16 units, marked with an ellipsis. */
function clip(text: string, chars: number): string {
  if (text.length <= chars) return text;
  let kept = text.slice(0, chars - 1);
  // Not half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(kept)) kept = kept.slice(0, -1);
  return `${kept}\u2026`;
}
