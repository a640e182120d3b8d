/**
 * Where each new message goes: its id (one sequence for the store) and its
 * seq (one sequence per conversation). Both are handed out in memory,
 * before a held public row is written (transactions.ts), and read from the
 * database only when not known: at the first message of a conversation,
 * and after a rollback, which forgets them all so that an undone message
 * leaves at most a gap.
 */

import type { MessagePosition, NewMessage } from "./store.ts";
import { integer } from "./rows.ts";
import type { Transactions } from "./transactions.ts";

/** The seq counter's key of the public room: one per conversation. */
const PUBLIC_CONVERSATION = "public";

const NEWEST_PUBLIC_SEQ_SQL = `SELECT seq FROM messages WHERE kind = 'public'
         ORDER BY id DESC LIMIT 1`;

export class MessagePositions {
  readonly #tx: Transactions;
  /** The last message id handed out; null: read it from the database. */
  #lastId: number | null = null;
  /** The last seq of each conversation touched since the last rollback. */
  readonly #lastSeq = new Map<string, number>();

  constructor(tx: Transactions) {
    this.#tx = tx;
  }

  /**
   * The id and seq for the next message: of the public room when `message`
   * is undefined. `at`, when given, is a shared log's position (issue 19),
   * taken as it is if ids still only grow. Reading goes through the held
   * public rows first (transactions.ts), which are counted in what is
   * known: the two cannot disagree.
   */
  next(
    message: NewMessage | undefined,
    at: MessagePosition | undefined,
  ): MessagePosition {
    const key = message === undefined
      ? PUBLIC_CONVERSATION
      : conversationKey(message);
    const lastId = this.lastMessageId();
    if (at !== undefined) {
      if (
        !Number.isSafeInteger(at.id) || !Number.isSafeInteger(at.seq) ||
        at.id <= lastId || at.seq < 1
      ) {
        throw new RangeError(
          `Message position ${at.id}/${at.seq} is not past the last id ${lastId}`,
        );
      }
      this.#lastId = at.id;
      this.#lastSeq.set(key, at.seq);
      return at;
    }
    const seq = (this.#lastSeq.get(key) ??
      (message === undefined
        ? this.#lastSeqWhere(NEWEST_PUBLIC_SEQ_SQL)
        : this.#readLastSeq(message))) + 1;
    const id = lastId + 1;
    this.#lastId = id;
    this.#lastSeq.set(key, seq);
    return { id, seq };
  }

  lastMessageId(): number {
    if (this.#lastId !== null) return this.#lastId;
    // sqlite_sequence remembers ids of deleted rows too (AUTOINCREMENT).
    const row = this.#tx.get(
      `SELECT max(coalesce((SELECT seq FROM sqlite_sequence
                            WHERE name = 'messages'), 0),
                  coalesce((SELECT max(id) FROM messages), 0)) AS n`,
    );
    return Number(row?.n ?? 0);
  }

  /** After a rollback: what was handed out may be undone. */
  forget(): void {
    this.#lastId = null;
    this.#lastSeq.clear();
  }

  /**
   * The last seq of a message's conversation, read from the database: from
   * its newest message, or, if pruning deleted that, conversation_seqs.
   */
  #readLastSeq(message: NewMessage): number {
    const kept = message.kind === "public" ? 0 : this.#lastSeqWhere(
      "SELECT seq FROM conversation_seqs WHERE conversation = ?",
      conversationKey(message),
    );
    return Math.max(kept, this.#readNewestSeq(message));
  }

  /** The seq of the newest message of a conversation still stored. */
  #readNewestSeq(message: NewMessage): number {
    // Seqs grow with ids, so the newest message has the last one; kinds are
    // literals so that SQLite uses the partial indexes.
    switch (message.kind) {
      case "public":
        return this.#lastSeqWhere(NEWEST_PUBLIC_SEQ_SQL);
      case "private": {
        const last = (from: string, to: string) =>
          this.#lastSeqWhere(
            `SELECT seq FROM messages
             WHERE kind = 'private' AND from_key = ? AND to_key = ?
             ORDER BY id DESC LIMIT 1`,
            from,
            to,
          );
        return Math.max(
          last(message.fromKey, message.toKey),
          last(message.toKey, message.fromKey),
        );
      }
      case "group":
        return this.#lastSeqWhere(
          `SELECT seq FROM messages WHERE kind = 'group' AND group_key = ?
           ORDER BY id DESC LIMIT 1`,
          message.groupKey,
        );
    }
  }

  #lastSeqWhere(sql: string, ...params: string[]): number {
    const row = this.#tx.get(sql, ...params);
    return row === undefined ? 0 : integer(row, "seq");
  }
}

/**
 * The key of a message's conversation, for its seq: as
 * KEEP_CONVERSATION_SEQS_SQL (store_cap.ts) keys conversation_seqs.
 */
function conversationKey(message: NewMessage): string {
  switch (message.kind) {
    case "public":
      return PUBLIC_CONVERSATION;
    case "private":
      // Both directions share one sequence. Name keys hold no space.
      return message.fromKey < message.toKey
        ? `p ${message.fromKey} ${message.toKey}`
        : `p ${message.toKey} ${message.fromKey}`;
    case "group":
      return `g ${message.groupKey}`;
  }
}
