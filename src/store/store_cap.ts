/**
 * The store's size cap (StoreOptions.maxBytes): past it, the oldest
 * messages no one is still owed are deleted (public ones first, but the
 * newest of the room; the seq of a conversation whose newest goes is kept
 * in conversation_seqs); if that is not enough, the oldest messages waiting
 * for the users owed the most are given up (each user is told at sign-in:
 * `takeDropped`); only if nothing is left to give up does `full` turn true.
 * The choices are prune_policy.ts's; this runs them against the database
 * and keeps what they are made from.
 */

import {
  DELIVERY_COST,
  MAX_SENDERS_FOLLOWED,
  OwedMailboxes,
} from "./owed_mailboxes.ts";
import {
  capCheckDue,
  fullNotice,
  givingUpNotice,
  nextPruneStep,
  nextSweep,
} from "./prune_policy.ts";
import { integer, type Row } from "./rows.ts";
import {
  accountOfSenderKey,
  groupOfSenderKey,
  SENDER_KEY_SQL,
  SenderGroups,
} from "./sender_groups.ts";
import type { Transactions } from "./transactions.ts";

export const DEFAULT_CAP_CHECK_EVERY = 256;
/** A check's time at most by default: the rest waits for the next. */
export const DEFAULT_CAP_CHECK_BUDGET_MS = 50;
const CAP_CHECK_MS = 1000;
/** PRAGMA auto_vacuum's value for INCREMENTAL. */
const INCREMENTAL_AUTO_VACUUM = 2;
/** Giving free pages back: how long per check, how many at a time, how many kept. */
const TRIM_BUDGET_MS = 10;
const TRIM_STEP_PAGES = 16;
const MIN_FREE_PAGES_KEPT = 256;
/** Messages deleted per statement, and statements per check at most. */
const PRUNE_BATCH = 256;
const PRUNE_BATCHES_PER_CHECK = 32;
/**
 * Giving up waiting messages: the users owed at least this share of the
 * most anyone is owed go together (the members of one flooded group are
 * owed alike), at most this many of them per statement.
 */
const FULLEST_SHARE = 0.5;
const FULLEST_USERS = 4096;
/** Messages given up per statement. */
const DROP_BATCH = 32;
/** Message ids one statement of a sweep looks at. */
const SWEEP_WINDOW = 8192;
/** Past this many candidates for pruning, one sweep of the table instead. */
const MAX_FREE_CANDIDATES = 100_000;
/** Giving up again after this long without is worth another line. */
const DROP_EPISODE_MS = 60_000;

export interface CapOptions {
  /** The most bytes the database's pages in use may take; 0 for no cap. */
  maxBytes: number;
  /** Commits between two reads of the size (or a second, if sooner). */
  checkEvery: number;
  /** A check's time at most (ms), the rest left for the next check. */
  checkBudgetMs: number;
  notice: (line: string) => void;
  /** The last message id handed out (message_positions.ts). */
  lastMessageId: () => number;
}

export class StoreCap {
  readonly #tx: Transactions;
  readonly #maxBytes: number;
  readonly #checkEvery: number;
  readonly #checkBudgetMs: number;
  readonly #notice: (line: string) => void;
  readonly #lastMessageId: () => number;
  /** Commits since the size was last read, and when it was. */
  #commitsSinceCheck = 0;
  #lastCheck = 0;
  #checking = false;
  #full = false;
  /**
   * Whether something may have become deletable since pruning last found
   * nothing (a delivery marked done, a new message, which may be given up):
   * until then a full store does not scan its messages again at every
   * check, which would cost the most exactly when it is under attack.
   */
  #mayHaveRoom = true;
  /**
   * What waits for each user, for choosing whose messages to give up at the
   * cap; null without a cap. Read from the table when the store opens (so
   * that a store at its cap under a flood does not stop to read it), kept
   * up to date from then on, and read again when next needed after a
   * rollback (`#owedStale`), which may undo what it was told.
   */
  readonly #owed: OwedMailboxes | null;
  #owedStale = true;
  /**
   * Private and group messages that may now be owed to no one (a delivery
   * marked done, given up, or none waiting when stored), for pruning to
   * look at instead of every message; with a cap only. `#scanAll` when they
   * may be incomplete (at open, after a rollback, past MAX_FREE_CANDIDATES):
   * pruning then sweeps the whole table once, from `#scanAfter` on.
   */
  readonly #freeCandidates = new Set<number>();
  #scanAll = true;
  #scanAfter = 0;
  /** When waiting messages were last given up (said once per episode). */
  #lastDropAt = Number.NEGATIVE_INFINITY;
  /**
   * Whom the estimates count as one sender (sender_groups.ts): the
   * accounts made from one address together.
   */
  readonly senders: SenderGroups;

  constructor(tx: Transactions, options: CapOptions) {
    if (
      !(options.maxBytes >= 0) || !(options.checkEvery >= 1) ||
      !(options.checkBudgetMs > 0)
    ) {
      throw new RangeError("The store's cap and its check interval");
    }
    this.#tx = tx;
    this.#maxBytes = options.maxBytes;
    this.#checkEvery = options.checkEvery;
    this.#checkBudgetMs = options.checkBudgetMs;
    this.#notice = options.notice;
    this.#lastMessageId = options.lastMessageId;
    this.#owed = this.#maxBytes > 0 ? new OwedMailboxes() : null;
    this.senders = new SenderGroups(tx);
  }

  /** Whether there is a cap: without one, nothing here is kept. */
  get enabled(): boolean {
    return this.#maxBytes > 0;
  }

  /** Nothing can be deleted and the cap is passed: new messages wait. */
  get full(): boolean {
    return this.#full;
  }

  /**
   * What waits for each user, when known (null without a cap, or until it
   * is read again after a rollback), for those who store or deliver
   * messages to keep up to date.
   */
  get owed(): OwedMailboxes | null {
    return this.#owedStale ? null : this.#owed;
  }

  /** A message was stored, or a delivery marked done: maybe room now. */
  mayHaveRoom(): void {
    this.#mayHaveRoom = true;
  }

  /**
   * A private or group message that may now be owed to no one (kept even
   * during a sweep, which may have passed it already).
   */
  mayBeFree(messageId: number): void {
    if (this.#maxBytes === 0) return;
    if (this.#freeCandidates.size >= MAX_FREE_CANDIDATES) this.#sweepAll();
    else this.#freeCandidates.add(messageId);
  }

  /**
   * Deliveries marked done, each row with its message_id and the body's
   * size (`bytes`): what the user is owed goes down by exactly those, and
   * the messages may now be owed to no one.
   */
  delivered(userKey: string, rows: readonly Row[]): void {
    this.#mayHaveRoom = true;
    const owed = this.owed;
    for (const row of rows) {
      owed?.remove(
        userKey,
        Number(row.bytes ?? 0) + DELIVERY_COST,
        this.senders.weightOf(String(row.from_key)),
      );
      this.mayBeFree(integer(row, "message_id"));
    }
  }

  /** A rollback may have undone what the estimates were told. */
  rolledBack(): void {
    this.#owedStale = true;
    this.senders.forget();
    this.#sweepAll();
  }

  /** After each commit: reads the size now and then (checkEvery). */
  committed(): void {
    if (this.#maxBytes === 0 || this.#checking) return;
    if (
      capCheckDue(
        ++this.#commitsSinceCheck,
        this.#checkEvery,
        Date.now() - this.#lastCheck,
        CAP_CHECK_MS,
      )
    ) {
      this.check();
    }
  }

  /**
   * If the pages in use pass the cap, deletes the oldest messages no one is
   * still owed until they are under CAP_TARGET of it, in the order
   * prune_policy.ts chooses (a bounded amount per check: the rest at the
   * next); SQLite reuses the freed pages, so the file stops growing. `full`
   * when nothing is left to delete.
   */
  check(): void {
    if (this.#maxBytes === 0 || this.#checking) return;
    this.#checking = true;
    this.#commitsSinceCheck = 0;
    this.#lastCheck = Date.now();
    try {
      let used = this.usedBytes();
      let deletable = this.#mayHaveRoom || !this.#full;
      if (used > this.#maxBytes && deletable) {
        const deadline = performance.now() + this.#checkBudgetMs;
        let batch = 0;
        let outOfTime = performance.now() >= deadline;
        let publicExhausted = false;
        let givenUpAll = false;
        // The candidates, oldest first, taken in batches during this check.
        let queue: number[] | null = null;
        const done = () => {
          batch++;
          outOfTime = performance.now() >= deadline;
        };
        pruning: for (;;) {
          const step = nextPruneStep({
            used,
            maxBytes: this.#maxBytes,
            batch,
            batches: PRUNE_BATCHES_PER_CHECK,
            outOfTime,
            publicExhausted,
            scanAll: this.#scanAll,
            queued: queue?.length ?? this.#freeCandidates.size,
            givenUpAll,
          });
          switch (step.kind) {
            case "public": {
              const deleted = this.#tx.transaction(() =>
                this.#tx.run(PRUNE_PUBLIC_SQL, PRUNE_BATCH)
              );
              if (deleted > 0) {
                used = this.usedBytes();
                done();
              } else publicExhausted = true;
              break;
            }
            case "sweep": {
              // One sweep of the whole table, a window of ids at a time (a
              // statement that looked until it found a batch read every
              // message when all were owed), resumed at the next check if
              // this one runs out of time.
              const from = this.#scanAfter;
              const to = from + SWEEP_WINDOW;
              const ids = this.#tx.all(OWED_NOTHING_SQL, from, to, PRUNE_BATCH)
                .map((row) => integer(row, "id"));
              const sweep = nextSweep(
                from,
                to,
                ids,
                PRUNE_BATCH,
                this.#lastMessageId(),
              );
              this.#scanAll = sweep.scanAll;
              this.#scanAfter = sweep.scanAfter;
              if (ids.length > 0) {
                this.#deleteMessages(ids);
                used = this.usedBytes();
              }
              done();
              break;
            }
            case "candidates": {
              queue ??= [...this.#freeCandidates].sort((a, b) => a - b);
              const ids = queue.splice(0, PRUNE_BATCH);
              for (const id of ids) this.#freeCandidates.delete(id);
              const free = this.#tx.all(STILL_FREE_SQL, JSON.stringify(ids))
                .map((row) => integer(row, "id"));
              if (free.length > 0) {
                this.#deleteMessages(free);
                used = this.usedBytes();
              }
              done();
              break;
            }
            case "give_up": {
              const given = this.#dropFromFullestMailboxes(used);
              if (given.length > 0) {
                queue ??= [...this.#freeCandidates].sort((a, b) => a - b);
                queue.push(...given);
                done();
              } else givenUpAll = true;
              break;
            }
            case "stop":
              if (step.reason === "nothing_deletable") {
                deletable = false;
                this.#mayHaveRoom = false;
              }
              break pruning;
            default: {
              const unknown: never = step;
              throw new TypeError(`Unknown prune step ${String(unknown)}`);
            }
          }
        }
      }
      this.#setFull(used > this.#maxBytes && !deletable, used);
      this.#giveBackFreePages();
    } catch (error) {
      // The messages stay; writing goes on while the disk lets it.
      this.#notice(
        `Could not make room in the store: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    } finally {
      this.#checking = false;
    }
  }

  /**
   * A store made with incremental auto_vacuum (log_upkeep.ts) that has
   * many more free pages than it will soon reuse gives some back to the
   * disk: a few pages at a time, within TRIM_BUDGET_MS (moving a page is
   * slow, so thousands of free pages take some minutes of checks, never one
   * long pause). Free pages up to a quarter of the file (and 1
   * MiB) stay: a store at its cap refills what it pruned, and giving that
   * back would only grow the file again. An older store (auto_vacuum off)
   * keeps its size.
   */
  #giveBackFreePages(): void {
    const deadline = performance.now() + TRIM_BUDGET_MS;
    for (;;) {
      const row = this.#tx.get(
        `SELECT a.auto_vacuum AS mode, p.page_count AS pages,
                f.freelist_count AS free
         FROM pragma_auto_vacuum() a, pragma_page_count() p,
              pragma_freelist_count() f`,
      );
      if (Number(row?.mode) !== INCREMENTAL_AUTO_VACUUM) return;
      const pages = Number(row?.pages ?? 0);
      const free = Number(row?.free ?? 0);
      const excess = free -
        Math.max(MIN_FREE_PAGES_KEPT, Math.floor(pages / 4));
      if (excess <= 0 || performance.now() >= deadline) return;
      this.#tx.all(
        `PRAGMA incremental_vacuum(${Math.min(excess, TRIM_STEP_PAGES)})`,
      );
    }
  }

  /**
   * Bytes in the database's pages in use (free pages left out: SQLite
   * reuses them). Two PRAGMAs: cheap, but not for every message.
   */
  usedBytes(): number {
    const row = this.#tx.get(
      `SELECT (p.page_count - f.freelist_count) * s.page_size AS n
       FROM pragma_page_count() p, pragma_freelist_count() f,
            pragma_page_size() s`,
    );
    return Number(row?.n ?? 0);
  }

  /** How many messages for the user were given up since last asked. */
  takeDropped(userKey: string): number {
    const row = this.#tx.get(
      "DELETE FROM dropped_deliveries WHERE user_key = ? RETURNING count",
      userKey,
    );
    return row === undefined ? 0 : integer(row, "count");
  }

  /**
   * Deletes these messages (their deliveries with them), keeping the last
   * seq of their conversations: the next message of each goes on from
   * there, even if these were the newest.
   */
  #deleteMessages(ids: number[]): void {
    const list = JSON.stringify(ids);
    this.#tx.transaction(() => {
      this.#tx.run(KEEP_CONVERSATION_SEQS_SQL, list);
      this.#tx.run(DELETE_MESSAGES_SQL, list);
    });
  }

  /** Pruning must look at every message again: its candidates may miss some. */
  #sweepAll(): void {
    this.#scanAll = true;
    this.#scanAfter = 0;
    this.#freeCandidates.clear();
  }

  /**
   * Gives up the oldest DROP_BATCH messages waiting for the user owed the
   * most from whoever sent them the most of it (OwedMailboxes
   * heaviestSender: the accounts made from one address count as one,
   * sender_groups.ts; within such a group, its heaviest account, by what
   * it sent of the newest it has waiting), for every user owed at least FULLEST_SHARE of that (marked
   * delivered, so that pruning can take them once no one else waits for
   * them; counted in dropped_deliveries for `takeDropped`). Returns the
   * ids of the messages it gave up deliveries of.
   */
  #dropFromFullestMailboxes(used: number): number[] {
    const owed = this.readOwed();
    if (owed === null) return [];
    const fullest = owed.fullest(FULLEST_SHARE, FULLEST_USERS);
    if (fullest.length === 0) return [];
    const first = fullest[0]!;
    const users = JSON.stringify(fullest.map((user) => user.userKey));
    // What the one who sent the most sent goes first: a user flooded while
    // away keeps what others sent before the flood. Giving up the oldest of
    // all first let a classmate who flooded someone offline push out every
    // message waiting for them from anyone else.
    // Counted by account, 200 names made from one address each sending a
    // little were each lighter than a friend, who lost nearly all. Counted
    // by address group, they are one heavy sender; within the group, its
    // heaviest account goes first, so that a class behind one address
    // loses one flooder's messages before its other members'.
    const fromHeaviest = () => {
      const senderKey = owed.heaviestSender(first.userKey);
      if (senderKey === undefined) return [];
      const group = groupOfSenderKey(senderKey);
      const sender = group === null
        ? accountOfSenderKey(senderKey)
        : this.#tx.get(HEAVIEST_IN_GROUP_SQL, first.userKey, group)?.from_key;
      return typeof sender !== "string" ? [] : this.#tx.all(
        DROP_OLDEST_SENT_SQL,
        first.userKey,
        DROP_BATCH,
        users,
        sender,
      );
    };
    const given = this.#tx.transaction(() => {
      let rows = fromHeaviest();
      if (rows.length === 0) {
        // Those followed have nothing left waiting, or one not followed
        // may have sent more (OwedMailboxes heaviestSender): the heaviest
        // are read from the store (one pass over what waits for the user),
        // and failing that the oldest of all go.
        this.recountOwed(first.userKey);
        rows = fromHeaviest();
      }
      if (rows.length === 0) {
        rows = this.#tx.all(
          DROP_OLDEST_OWED_SQL,
          first.userKey,
          DROP_BATCH,
          users,
        );
      }
      const perUser = new Map<string, number>();
      const ids = new Set<number>();
      for (const row of rows) {
        const userKey = String(row.user_key);
        owed.remove(
          userKey,
          Number(row.bytes ?? 0) + DELIVERY_COST,
          this.senders.weightOf(String(row.from_key)),
        );
        perUser.set(userKey, (perUser.get(userKey) ?? 0) + 1);
        ids.add(integer(row, "message_id"));
      }
      for (const [userKey, count] of perUser) {
        this.#tx.run(
          `INSERT INTO dropped_deliveries (user_key, count) VALUES (?, ?)
           ON CONFLICT (user_key) DO UPDATE SET count = count + excluded.count`,
          userKey,
          count,
        );
      }
      return [...ids];
    });
    const now = Date.now();
    if (given.length > 0 && now - this.#lastDropAt > DROP_EPISODE_MS) {
      this.#notice(
        givingUpNotice(used, this.#maxBytes, fullest.length, first),
      );
    }
    if (given.length > 0) this.#lastDropAt = now;
    return given;
  }

  /**
   * The estimate of what waits for each user, read from the table when it
   * is not known (at open, and after a rollback): one pass over the waiting
   * deliveries (0.5 s for 2 million), paid only by a store with a cap.
   */
  readOwed(): OwedMailboxes | null {
    const owed = this.#owed;
    if (owed === null || !this.#owedStale) return owed;
    owed.reset();
    for (const row of this.#tx.all(OWED_SQL)) {
      const count = integer(row, "n");
      owed.addFrom(
        String(row.user_key),
        row.from_key === null ? null : String(row.from_key),
        count,
        Number(row.bytes) + count * DELIVERY_COST,
        Number(row.heaviest),
      );
    }
    this.#owedStale = false;
    return owed;
  }

  /**
   * The user's waiting messages, counted again, their heaviest senders
   * first (a few, after a requeue; or once those followed have nothing
   * left).
   */
  recountOwed(userKey: string): void {
    if (this.#owed === null || this.#owedStale) return;
    const owed = this.#owed;
    owed.clear(userKey);
    for (
      const row of this.#tx.all(
        `SELECT ${SENDER_KEY_SQL} AS from_key, count(*) AS n,
                coalesce(sum(length(m.body)), 0) AS bytes
         FROM deliveries d JOIN messages m ON m.id = d.message_id
           LEFT JOIN users u ON u.name_key = m.from_key
         WHERE d.user_key = ? AND d.delivered = 0
         GROUP BY 1
         ORDER BY coalesce(sum(length(m.body)), 0) + count(*) * ${DELIVERY_COST}
           DESC`,
        userKey,
      )
    ) {
      const count = Number(row.n ?? 0);
      owed.addFrom(
        userKey,
        String(row.from_key),
        count,
        Number(row.bytes ?? 0) + count * DELIVERY_COST,
      );
    }
  }

  #setFull(full: boolean, used: number): void {
    if (full === this.#full) return;
    this.#full = full;
    this.#notice(fullNotice(full, used, this.#maxBytes));
  }
}

/**
 * The oldest public messages but the newest (it carries the room's seq).
 * Public history is open to all: no one is owed it.
 */
const PRUNE_PUBLIC_SQL = `
  DELETE FROM messages WHERE id IN (
    SELECT id FROM messages
    WHERE kind = 'public'
      AND id < (SELECT max(id) FROM messages WHERE kind = 'public')
    ORDER BY id LIMIT ?)`;

/**
 * Of a JSON array of message ids, those still stored that wait for no one.
 */
const STILL_FREE_SQL = `
  SELECT c.value AS id FROM json_each(?) c
  WHERE EXISTS (
      SELECT 1 FROM messages m WHERE m.id = c.value AND m.kind <> 'public')
    AND NOT EXISTS (
      SELECT 1 FROM deliveries d
      WHERE d.message_id = c.value AND d.delivered = 0)`;

/**
 * Gives up the oldest messages waiting for one user (?1, at most ?2 of
 * them) for every user in a JSON array (?3) who also waits for them: marked
 * delivered, which is what lets pruning take a message. Returns each
 * delivery given up with its user, the body's size and its sender.
 */
const DROP_OLDEST_OWED_SQL = `
  UPDATE deliveries SET delivered = 1
  WHERE delivered = 0
    AND message_id IN (
      SELECT message_id FROM deliveries
      WHERE user_key = ?1 AND delivered = 0
      ORDER BY message_id LIMIT ?2)
    AND user_key IN (SELECT value FROM json_each(?3))
  RETURNING user_key, message_id,
    (SELECT length(body) FROM messages WHERE id = message_id) AS bytes,
    (SELECT from_key FROM messages WHERE id = message_id) AS from_key`;

/**
 * The same, of the messages from one sender (?4) only: the oldest of
 * those waiting for the first user.
 */
const DROP_OLDEST_SENT_SQL = `
  UPDATE deliveries SET delivered = 1
  WHERE delivered = 0
    AND message_id IN (
      SELECT d.message_id FROM deliveries d
      JOIN messages m ON m.id = d.message_id
      WHERE d.user_key = ?1 AND d.delivered = 0 AND m.from_key = ?4
      ORDER BY d.message_id LIMIT ?2)
    AND user_key IN (SELECT value FROM json_each(?3))
  RETURNING user_key, message_id,
    (SELECT length(body) FROM messages WHERE id = message_id) AS bytes,
    (SELECT from_key FROM messages WHERE id = message_id) AS from_key`;

/**
 * Of the accounts registered from one address group (?2), the one whose
 * messages weigh the most among the newest HEAVIEST_IN_GROUP_SAMPLE of the
 * group's waiting for a user (?1): a flooder is most of the newest, and the
 * look is bounded however many the group has waiting.
 */
const HEAVIEST_IN_GROUP_SAMPLE = 4096;
const HEAVIEST_IN_GROUP_SQL = `
  SELECT from_key FROM (
    SELECT m.from_key AS from_key, length(m.body) AS size
    FROM deliveries d JOIN messages m ON m.id = d.message_id
      JOIN users u ON u.name_key = m.from_key
    WHERE d.user_key = ?1 AND d.delivered = 0 AND u.registered_from = ?2
    ORDER BY d.message_id DESC LIMIT ${HEAVIEST_IN_GROUP_SAMPLE})
  GROUP BY from_key
  ORDER BY sum(size) + count(*) * ${DELIVERY_COST} DESC
  LIMIT 1`;

/**
 * What waits for each user, by sender (sender_groups.ts: the accounts
 * made from one address group are one), the heaviest first: messages and
 * bytes of body, for the MAX_SENDERS_FOLLOWED heaviest senders, then one
 * row with no sender for all the others (with `heaviest`, the cost of what
 * the heaviest of them sent). The sizes are read once per
 * message into a small table first: looking each delivery's message up in
 * the table of bodies took 11x as long (2 million deliveries of 4,000
 * messages of 16 KB: 5.7 s against 0.53 s). The rest summed here, not
 * handed over a row for each pair: a group of 1000 where each member wrote
 * once waits as a million pairs, which took 11 s and 590 MB to open.
 */
const OWED_SQL = `
  WITH sizes AS MATERIALIZED (
    SELECT m.id AS id, ${SENDER_KEY_SQL} AS from_key,
           length(m.body) AS size
    FROM messages m LEFT JOIN users u ON u.name_key = m.from_key
    WHERE m.kind <> 'public'),
  pairs AS (
    SELECT d.user_key AS user_key, s.from_key AS from_key, count(*) AS n,
           coalesce(sum(s.size), 0) AS bytes
    FROM deliveries d JOIN sizes s ON s.id = d.message_id
    WHERE d.delivered = 0
    GROUP BY d.user_key, s.from_key),
  ranked AS (
    SELECT user_key, n, bytes,
           CASE WHEN row_number() OVER (
               PARTITION BY user_key
               ORDER BY bytes + n * ${DELIVERY_COST} DESC)
             <= ${MAX_SENDERS_FOLLOWED} THEN from_key END AS from_key
    FROM pairs)
  SELECT user_key, from_key, sum(n) AS n, sum(bytes) AS bytes,
         max(bytes + n * ${DELIVERY_COST}) AS heaviest
  FROM ranked
  GROUP BY user_key, from_key
  ORDER BY user_key, from_key IS NULL,
    sum(bytes) + sum(n) * ${DELIVERY_COST} DESC`;

/**
 * The ids of the oldest private and group messages that have reached
 * everyone they were for (a delivery still pending keeps its message), with
 * ids past the first parameter and up to the second.
 */
const OWED_NOTHING_SQL = `
  SELECT m.id FROM messages m
  WHERE m.kind <> 'public' AND m.id > ? AND m.id <= ?
    AND NOT EXISTS (
      SELECT 1 FROM deliveries d
      WHERE d.message_id = m.id AND d.delivered = 0)
  ORDER BY m.id LIMIT ?`;

/**
 * Keeps the last seq of the conversations of the messages in a JSON array
 * of ids (about to be deleted) in conversation_seqs, keyed as
 * conversationKey does (message_positions.ts). `WHERE true` is SQLite's way
 * to tell an upsert's ON CONFLICT from the SELECT's.
 */
const KEEP_CONVERSATION_SEQS_SQL = `
  INSERT INTO conversation_seqs (conversation, seq)
    SELECT CASE m.kind
        WHEN 'group' THEN 'g ' || m.group_key
        ELSE 'p ' || min(m.from_key, m.to_key) || ' ' ||
          max(m.from_key, m.to_key)
      END AS conversation, max(m.seq)
    FROM messages m
    WHERE m.id IN (SELECT value FROM json_each(?)) AND true
    GROUP BY conversation
  ON CONFLICT (conversation) DO UPDATE SET seq = max(seq, excluded.seq)`;

/** Deletes the messages in a JSON array of ids, their deliveries with them. */
const DELETE_MESSAGES_SQL = `
  DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))`;
