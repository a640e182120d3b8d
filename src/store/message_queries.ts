/**
 * The store's messages: storing them (public ones held for a multi-row
 * INSERT, private and group ones with a delivery row per recipient), the
 * client ids they came with, reading history back, and the position of a
 * shared log applied to them.
 */

import type {
  HistoryQuery,
  MessagePosition,
  NewMessage,
  NewPublicMessage,
  Recipient,
  StoredMessage,
} from "./store.ts";
import type { SQLInputValue } from "node:sqlite";
import { DELIVERY_COST, waitingRecipients } from "./owed_mailboxes.ts";
import {
  bodyBytes,
  checkCursor,
  checkLimit,
  integer,
  integerOrNull,
  MESSAGE_SELECT,
  type Row,
  toMessage,
} from "./rows.ts";
import type { MessagePositions } from "./message_positions.ts";
import type { SentIds } from "./sent_ids.ts";
import type { StoreCap } from "./store_cap.ts";
import type { Transactions } from "./transactions.ts";
import { MAX_HISTORY_SCAN } from "../protocol/limits.ts";
import { MEMBERSHIP_PERIODS_KEPT } from "./group_queries.ts";

export class MessageQueries {
  readonly #tx: Transactions;
  readonly #positions: MessagePositions;
  readonly #sentIds: SentIds;
  readonly #cap: StoreCap;

  constructor(
    tx: Transactions,
    positions: MessagePositions,
    sentIds: SentIds,
    cap: StoreCap,
  ) {
    this.#tx = tx;
    this.#positions = positions;
    this.#sentIds = sentIds;
    this.#cap = cap;
  }

  appendPublic(message: NewPublicMessage): MessagePosition {
    this.#cap.mayHaveRoom();
    const position = this.#positions.next(undefined, message.at);
    try {
      this.#tx.holdPublic(
        position.id,
        position.seq,
        message.ts,
        message.fromKey,
        message.fromName,
        message.body,
      );
    } catch (error) {
      // Inside a transaction, its rollback forgets the positions.
      if (!this.#tx.active) this.#positions.forget();
      throw error;
    }
    // Writing it flushes the held rows: only messages with a client id
    // (from clients that retry) lose the batching.
    if (message.clientId !== undefined) {
      this.#sentIds.record(message.fromKey, message.clientId, position);
    }
    return position;
  }

  appendMessage(message: NewMessage): MessagePosition {
    this.#cap.mayHaveRoom();
    // One statement is atomic by itself; a savepoint per public message
    // cost as much as the insert.
    if (message.recipients.length === 0 && this.#tx.active) {
      return this.#insert(message);
    }
    return this.#tx.transaction(() => this.#insert(message));
  }

  #insert(message: NewMessage): MessagePosition {
    const position = this.#positions.next(message, message.at);
    const { id, seq } = position;
    this.#tx.run(
      `INSERT INTO messages
         (id, seq, ts, kind, from_key, from_name, to_key, group_key, body,
          e2e_fingerprint, e2e_group_fingerprint)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      seq,
      message.ts,
      message.kind,
      message.fromKey,
      message.fromName,
      message.kind === "private" ? message.toKey : null,
      message.kind === "group" ? message.groupKey : null,
      message.body,
      message.kind === "private" ? message.e2eFingerprint ?? null : null,
      message.kind === "group" ? message.e2eFingerprint ?? null : null,
    );
    if (message.clientId !== undefined) {
      this.#sentIds.record(message.fromKey, message.clientId, position);
    }
    this.#insertDeliveries(id, message.recipients);
    // With a cap: who waits for it, for what each is owed, and whether it
    // is owed to no one at all.
    if (this.#cap.enabled) {
      const waits = waitingRecipients(message.recipients);
      const owed = this.#cap.owed;
      let owedToSomeone = false;
      for (const [userKey, waiting] of waits) {
        if (!waiting) continue;
        owedToSomeone = true;
        owed?.add(
          userKey,
          message.body.byteLength + DELIVERY_COST,
          this.#cap.senders.weightOf(message.fromKey),
        );
      }
      if (!owedToSomeone && message.kind !== "public") this.#cap.mayBeFree(id);
    }
    return position;
  }

  /**
   * One delivery row per recipient, up to DELIVERY_ROWS_PER_INSERT in one
   * statement: a group's message ran one INSERT per member.
   */
  #insertDeliveries(id: number, recipients: readonly Recipient[]): void {
    for (
      let first = 0;
      first < recipients.length;
      first += DELIVERY_ROWS_PER_INSERT
    ) {
      const rows = Math.min(
        DELIVERY_ROWS_PER_INSERT,
        recipients.length - first,
      );
      const params: SQLInputValue[] = [];
      for (let i = first; i < first + rows; i++) {
        const recipient = recipients[i]!;
        params.push(id, recipient.userKey, recipient.delivered ? 1 : 0);
      }
      this.#tx.run(deliveryInsertSql(rows), ...params);
    }
  }

  lastMessageId(): number {
    return this.#positions.lastMessageId();
  }

  sentWithClientId(
    fromKey: string,
    clientId: string,
  ): MessagePosition | undefined {
    return this.#sentIds.get(fromKey, clientId);
  }

  history(
    query: HistoryQuery,
    limit: number,
    maxBodyBytes = Number.POSITIVE_INFINITY,
  ): StoredMessage[] {
    checkLimit(limit);
    checkCursor(query.before);
    checkCursor(query.after);
    // No cursor: below every id there can be (above none).
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const after = query.after ?? 0;
    let rows: Row[];
    // Newest first: rows are read one by one and no more once the bodies
    // pass the budget, so a big history costs no more than the budget.
    const newest = (sql: string, ...params: SQLInputValue[]) =>
      this.#tx.guard(() => {
        const out: Row[] = [];
        let bytes = 0;
        for (
          const row of this.#tx.statement(sql).iterate(
            ...params,
          ) as Iterable<Row>
        ) {
          out.push(row);
          bytes += bodyBytes(row);
          if (bytes > maxBodyBytes) break;
        }
        return out;
      });
    // Kinds appear as literals so SQLite can use the partial indexes.
    switch (query.kind) {
      case "public":
        rows = newest(
          `${MESSAGE_SELECT}
           WHERE m.kind = 'public' AND m.id < ? AND m.id > ?
           ORDER BY m.id DESC
           LIMIT ?`,
          before,
          after,
          limit,
        );
        break;
      case "group":
        // Entitlement was fixed when each message was sent: the viewer sees
        // what they sent and what they were a recipient of, which leaves out
        // everything from before they joined or while they had left.
        // No further back than historyFloor: each message looked at costs a
        // lookup, and a viewer entitled to none of a big group's would
        // otherwise have the whole group read for every request.
        rows = newest(
          `${MESSAGE_SELECT}
           WHERE m.kind = 'group' AND m.group_key = ? AND m.id < ?
             AND m.id >= ? AND m.id > ?
             AND (m.from_key = ? OR EXISTS (
               SELECT 1 FROM deliveries d
               WHERE d.message_id = m.id AND d.user_key = ?))
           ORDER BY m.id DESC
           LIMIT ?`,
          query.groupKey,
          before,
          this.historyFloor(query) ?? 0,
          Math.max(this.#releasedBelow(query.viewerKey), after),
          query.viewerKey,
          query.viewerKey,
          limit,
        );
        break;
      case "private": {
        // A released name's conversations until its release were its old
        // key's (Store.releaseName): its owner now reads from there on.
        const from = Math.max(this.#releasedBelow(query.viewerKey), after);
        // One indexed range per direction, each cut to the limit first.
        rows = newest(
          `${MESSAGE_SELECT}
           WHERE m.id IN (
             SELECT id FROM (
               SELECT id FROM messages
               WHERE kind = 'private' AND from_key = ? AND to_key = ?
                 AND id < ? AND id > ?
               ORDER BY id DESC LIMIT ?)
             UNION ALL
             SELECT id FROM (
               SELECT id FROM messages
               WHERE kind = 'private' AND from_key = ? AND to_key = ?
                 AND id < ? AND id > ?
               ORDER BY id DESC LIMIT ?))
           ORDER BY m.id DESC
           LIMIT ?`,
          query.viewerKey,
          query.otherKey,
          before,
          from,
          limit,
          query.otherKey,
          query.viewerKey,
          before,
          from,
          limit,
          limit,
        );
        break;
      }
      default: {
        const unknown: never = query;
        throw new TypeError(
          `Unknown history kind ${(unknown as { kind: unknown }).kind}`,
        );
      }
    }
    return rows.reverse().map(toMessage);
  }

  historyFloor(query: HistoryQuery): number | null {
    if (query.kind !== "group") return null;
    checkCursor(query.before);
    checkCursor(query.after);
    // The MAX_HISTORY_SCAN-th newest below the cursor, read from the index
    // alone; none when there are no more than that.
    const row = this.#tx.get(
      `SELECT id, ts FROM messages
       WHERE kind = 'group' AND group_key = ? AND id < ?
       ORDER BY id DESC
       LIMIT 1 OFFSET ?`,
      query.groupKey,
      query.before ?? Number.MAX_SAFE_INTEGER,
      MAX_HISTORY_SCAN - 1,
    );
    if (row === undefined) return null;
    // Older ones are left unread only when there are any the viewer could
    // see: none at or below their name's release, and none sent before
    // they first joined (entitlement is fixed when a message is sent, and
    // they could send none before): a newcomer to a big group was told
    // that older ones remain, and /history paged on through messages none
    // of which they could ever read. Only the newest periods are kept
    // (MEMBERSHIP_PERIODS_KEPT): with that many, the first may be gone,
    // and older ones are looked for as before.
    const floor = integer(row, "id");
    const from = Math.max(
      this.#releasedBelow(query.viewerKey),
      query.after ?? 0,
    );
    if (floor <= from + 1) return null;
    const periods = this.#tx.get(
      `SELECT min(joined_at) AS joined, count(*) AS periods FROM memberships
       WHERE group_key = ? AND user_key = ?`,
      query.groupKey,
      query.viewerKey,
    );
    const firstJoined = periods === undefined ||
        integer(periods, "periods") >= MEMBERSHIP_PERIODS_KEPT
      ? undefined
      : integerOrNull(periods, "joined");
    if (
      firstJoined === null ||
      (firstJoined !== undefined && integer(row, "ts") < firstJoined)
    ) return null;
    const older = this.#tx.get(
      `SELECT 1 AS found FROM messages
       WHERE kind = 'group' AND group_key = ? AND id < ? AND id > ?
       LIMIT 1`,
      query.groupKey,
      floor,
      from,
    );
    return older === undefined ? null : floor;
  }

  /** Where the viewer's history starts (Store.releaseName): 0 if never. */
  #releasedBelow(userKey: string): number {
    const row = this.#tx.get(
      "SELECT released_below FROM users WHERE name_key = ?",
      userKey,
    );
    return row === undefined ? 0 : integer(row, "released_below");
  }

  logPosition(): number {
    const row = this.#tx.get(
      "SELECT value FROM meta WHERE key = 'log_position'",
    );
    const value = Number(row?.value ?? 0);
    return Number.isSafeInteger(value) && value > 0 ? value : 0;
  }

  setLogPosition(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      throw new RangeError(`Log position ${seq} is not a sequence`);
    }
    // Only grows: a batch applied late never moves it back.
    this.#tx.run(
      `INSERT INTO meta (key, value) VALUES ('log_position', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value
         WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)`,
      String(seq),
    );
  }
}

/** Recipients' rows in one INSERT at most (3 values each). */
const DELIVERY_ROWS_PER_INSERT = 64;
/** The INSERT for n rows at index n, made at first use. */
const DELIVERY_INSERT_SQL: string[] = [];

/**
 * The INSERT of `rows` deliveries. A recipient listed twice counts once,
 * delivered if either says so: the upsert sees the rows inserted before it
 * in the same statement.
 */
function deliveryInsertSql(rows: number): string {
  return DELIVERY_INSERT_SQL[rows] ??=
    `INSERT INTO deliveries (message_id, user_key, delivered)
     VALUES ${Array(rows).fill("(?, ?, ?)").join(", ")}
     ON CONFLICT (message_id, user_key) DO UPDATE
       SET delivered = max(delivered, excluded.delivered)`;
}
