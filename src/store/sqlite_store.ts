/**
 * The `Store` on `node:sqlite`, built into Deno: one database file in WAL
 * mode, its schema created and migrated by `migrations.ts`.
 *
 * Durability: a transaction is in the write-ahead log when `transaction()`
 * returns. With the default `synchronous: "NORMAL"` that survives the
 * program crashing or being killed (kill -9), since the log is written to the
 * operating system before COMMIT returns; a power loss or an OS crash may
 * lose the last transactions, though never corrupt the database. Pass
 * `synchronous: "FULL"` to sync the log to the disk at every commit and keep
 * those too, at the cost of one disk flush per transaction.
 */

import {
  DatabaseSync,
  type SQLInputValue,
  type StatementSync,
} from "node:sqlite";
import { migrate, MIGRATIONS, readSchemaVersion } from "./migrations.ts";
import { type CheckpointCounts, Checkpointer } from "./checkpointer.ts";
import {
  type BindResult,
  type Conversation,
  type GroupRecord,
  type HistoryQuery,
  type MemberRecord,
  type MembershipPeriod,
  type MessagePosition,
  type NewMessage,
  type NewPublicMessage,
  type NewTransfer,
  type Store,
  type StoredMessage,
  type StoredPrekeys,
  StoreError,
  TRANSFER_INTERRUPTED,
  type TransferRecord,
  type TransferResult,
  type UserRecord,
} from "./store.ts";
import type { Timestamp } from "../protocol/messages.ts";
import { WalSync } from "./wal_sync.ts";
import { prepareLocation } from "./database_location.ts";
import { translate } from "./sqlite_errors.ts";
import { RecentClientIds } from "./recent_client_ids.ts";
import { DELIVERY_COST, OwedMailboxes } from "./owed_mailboxes.ts";
import {
  bodyBytes,
  integer,
  integerOrNull,
  type Row,
  text,
  textOrNull,
  toGroup,
  toMessage,
  toUser,
} from "./rows.ts";

/**
 * The database file's name inside a data folder, for callers that have a
 * folder. Persisted in effect: renaming it would orphan existing data.
 */
export const DATABASE_FILE = "chat.db";

export interface StoreOptions {
  /**
   * "NORMAL" (the default) survives a crash or kill -9 of the program; power
   * loss may lose the last transactions. "FULL" survives power loss too.
   */
  synchronous?: "NORMAL" | "FULL";
  /** How long to wait for another process holding the write lock. */
  busyTimeoutMs?: number;
  /**
   * Told when an existing database, log or shared-memory file was readable
   * by others and has been made private (the line says which and how).
   */
  notice?: (line: string) => void;
  /**
   * The most bytes the database's pages in use may take; 0 (the default)
   * for no cap. Past it the oldest messages no one is still owed are
   * deleted (public ones first, but the newest of the room; the seq of a
   * conversation whose newest goes is kept in conversation_seqs); if that
   * is not enough, the oldest messages
   * waiting for the users owed the most are given up (each user is told at
   * sign-in: `takeDropped`), and only if nothing is left to give up does
   * `full()` turn true. Told through `notice` when giving up starts, when
   * the store is full, and when room is back.
   */
  maxBytes?: number;
  /**
   * The size is read after this many commits, or at the first commit a
   * second after it was last read, whichever comes first (reading it costs
   * two PRAGMAs, too much for every message).
   */
  capCheckEvery?: number;
  /**
   * A check's time at most (ms), the rest left for the next check: 50 by
   * default, so a large store's pruning never stalls the server; tests that
   * assert what one check did pass Infinity (a busy machine must not cut it
   * short).
   */
  capCheckBudgetMs?: number;
  /**
   * Rows written between two checkpoints of the write-ahead log, which a
   * worker thread runs (checkpointer.ts); Infinity for none but the one
   * at close.
   */
  checkpointEveryRows?: number;
  /**
   * How many client ids (of the newest messages sent with one) are kept to
   * recognise retries: SENT_IDS_KEPT unless a test needs fewer.
   */
  clientIdsKept?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

// About SQLite's own 1000 pages of log for the server's writes: at 200
// public messages a second to 100 users the log grew by 0.7-0.9 pages a row
// (issue 21's latency bench).
const DEFAULT_CHECKPOINT_EVERY_ROWS = 1024;
// SQLite's default, for when the worker cannot checkpoint.
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

const DEFAULT_CAP_CHECK_EVERY = 256;
const CAP_CHECK_MS = 1000;
/** Pruning goes down to this part of the cap, so it does not run at every check. */
const CAP_TARGET = 0.9;
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
/**
 * A check's time at most by default: the rest waits for the next (the
 * event loop).
 */
const CHECK_BUDGET_MS = 50;
/** Message ids one statement of a sweep looks at. */
const SWEEP_WINDOW = 8192;
/** Past this many candidates for pruning, one sweep of the table instead. */
const MAX_FREE_CANDIDATES = 100_000;
/** Giving up again after this long without is worth another line. */
const DROP_EPISODE_MS = 60_000;

// Bounds the log left behind after a large transaction; SQLite otherwise
// keeps the file at its largest size.
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Opens (creating if needed) the store at `path`, or a throwaway one for
 * ":memory:". Creates the parent folder of a new file. Throws `StoreError`
 * naming the path when the file cannot be used.
 */
export function openStore(
  path: string,
  options: StoreOptions = {},
): SqliteStore {
  return SqliteStore.open(path, options);
}

export class SqliteStore implements Store {
  /** The path given to `openStore`, or ":memory:". */
  readonly path: string;
  readonly id: string;
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  // How many transaction() calls are running; above 0, calls nest as
  // savepoints.
  #depth = 0;
  /** touchMessage calls inside the current transaction, written at commit. */
  #touches = new Map<string, Timestamp>();
  /** Public messages not written yet, PUBLIC_COLUMNS values each (appendPublic). */
  #publicRows: SQLInputValue[] = [];
  /** Client ids not written yet, SENT_ID_COLUMNS values each, held likewise. */
  #sentIdRows: SQLInputValue[] = [];
  /**
   * Where writing held public rows failed: the transaction depth then, and
   * the error. Part of them may be written, and the caller that saw the
   * error may have caught it: the transaction must not commit.
   */
  #publicWriteFailure: { depth: number; error: unknown } | null = null;
  /**
   * The last message id handed out, and the last seq of each conversation
   * touched: ids and seqs are given before public rows are written (see
   * appendPublic). Forgotten at any rollback and read again from the
   * database, so an undone message leaves at most a gap.
   */
  #lastId: number | null = null;
  #lastSeq = new Map<string, number>();
  /** Client ids recorded since sent_ids was last trimmed. */
  #sentIdsSinceTrim = 0;
  /** The newest of sent_ids, for sentWithClientId (recent_client_ids.ts). */
  readonly #clientIds: RecentClientIds;
  /** Syncs the write-ahead log off the event loop; null: SQLite does it. */
  #walSync: WalSync | null;
  /** Checkpoints the log off the event loop; null: SQLite does, or no log. */
  #checkpointer: Checkpointer | null = null;
  readonly #maxBytes: number;
  readonly #capCheckEvery: number;
  readonly #capCheckBudgetMs: number;
  readonly #notice: (line: string) => void;
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

  private constructor(
    db: DatabaseSync,
    path: string,
    log: LogSetup,
    options: StoreOptions,
  ) {
    this.#db = db;
    this.path = path;
    this.id = readStoreId(db);
    this.#maxBytes = options.maxBytes ?? 0;
    this.#capCheckEvery = options.capCheckEvery ?? DEFAULT_CAP_CHECK_EVERY;
    this.#capCheckBudgetMs = options.capCheckBudgetMs ?? CHECK_BUDGET_MS;
    this.#notice = options.notice ?? (() => {});
    this.#owed = this.#maxBytes > 0 ? new OwedMailboxes() : null;
    this.#clientIds = new RecentClientIds(
      options.clientIdsKept ?? SENT_IDS_KEPT,
    );
    if (
      !(this.#maxBytes >= 0) || !(this.#capCheckEvery >= 1) ||
      !(this.#capCheckBudgetMs > 0)
    ) {
      throw new RangeError("The store's cap and its check interval");
    }
    const written = this.#written();
    this.#walSync = log.walSync
      ? new WalSync(path, (reason) => this.#syncFailed(reason), written)
      : null;
    if (log.checkpointInWorker) {
      this.#checkpointer = new Checkpointer({
        path,
        busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
        everyRows: options.checkpointEveryRows ??
          DEFAULT_CHECKPOINT_EVERY_ROWS,
        onFailure: (reason) => this.#checkpointFailed(reason),
      }, written);
    }
    this.#loadClientIds();
    this.#owedNow();
  }

  /** The newest client ids, as many as are kept, from the table to memory. */
  #loadClientIds(): void {
    // Rows as arrays, not objects: half the time for 100,000 of them (once
    // per start, before the server listens). Its own statement: the shared
    // ones return objects.
    const statement = this.#guard(() =>
      this.#db.prepare(
        `SELECT message_id, seq, from_key, client_id FROM sent_ids
         ORDER BY message_id DESC LIMIT ?`,
      )
    );
    // In node:sqlite (Deno 2.9.6), not yet in its types.
    (statement as StatementSync & { setReturnArrays(on: boolean): void })
      .setReturnArrays(true);
    const rows = this.#guard(() =>
      statement.all(this.#clientIds.capacity)
    ) as unknown as unknown[][];
    for (let i = rows.length - 1; i >= 0; i--) {
      const [id, seq, fromKey, clientId] = rows[i]!;
      if (
        typeof id !== "number" || typeof seq !== "number" ||
        typeof fromKey !== "string" || typeof clientId !== "string"
      ) {
        throw new TypeError(`sent_ids row ${String(id)} has a wrong type`);
      }
      this.#clientIds.add(fromKey, clientId, { id, seq });
    }
    this.#clientIds.settle();
  }

  static open(path: string, options: StoreOptions = {}): SqliteStore {
    const memory = path === ":memory:";
    if (!memory) prepareLocation(path, options.notice ?? (() => {}));
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path, {
        enableForeignKeyConstraints: true,
        timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      });
    } catch (error) {
      throw translate(error, path);
    }
    const label = memory ? "The in-memory database" : `The database ${path}`;
    try {
      // Checked before configure() switches the file to WAL, so a database
      // that is refused is also left as it was.
      readSchemaVersion(db, label);
      const log = configure(db, memory, options);
      migrate(db, MIGRATIONS, label);
      const store = new SqliteStore(db, path, log, options);
      // A store already past its cap makes room, or says so, at once.
      store.#checkCap();
      return store;
    } catch (error) {
      db.close();
      throw translate(error, path);
    }
  }

  durable(): Promise<void> | null {
    const walSync = this.#walSync;
    if (walSync === null) return null;
    // Rows written through this connection since it opened, committed or
    // not: whatever wrote them (a transaction, a lone statement) is covered.
    return walSync.after(this.#written());
  }

  /** Rows written through this connection since it opened. */
  #written(): number {
    return Number(this.#get("SELECT total_changes() AS n")?.n);
  }

  /**
   * Has the worker checkpoint the log now; resolves once it has (false: no
   * worker, for an in-memory store or one whose worker failed). The log
   * then starts again at the next write if nothing was written meanwhile.
   */
  checkpoint(): Promise<boolean> {
    return this.#checkpointer?.now(this.#written()) ?? Promise.resolve(false);
  }

  /**
   * Starts the checkpoint worker (checkpointer.ts) now, as a server does
   * before it takes connections; otherwise it starts at the first
   * checkpoint, which suits tests and tools that open a store briefly.
   */
  startCheckpointer(): void {
    this.#checkpointer?.start();
  }

  /** Whether the checkpoint worker is running (for tests and tools). */
  get checkpointerRunning(): boolean {
    return this.#checkpointer?.running ?? false;
  }

  /** Checkpoints run by the worker and by this thread (for tests and tools). */
  get checkpoints(): CheckpointCounts {
    return { ...(this.#checkpointer?.counts ?? { byWorker: 0, byWriter: 0 }) };
  }

  /** The worker cannot checkpoint: SQLite does it in the commits again. */
  #checkpointFailed(reason: string): void {
    this.#checkpointer = null;
    if (this.#db.isOpen) {
      this.#db.exec(
        `PRAGMA wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`,
      );
    }
    console.error(
      `chat: cannot checkpoint ${this.path} from a worker thread (${reason}); the server's thread does it from now on`,
    );
  }

  /** The log cannot be synced our way: SQLite syncs each commit from now on. */
  #syncFailed(reason: string): void {
    this.#walSync = null;
    if (this.#db.isOpen) {
      this.#db.exec("PRAGMA synchronous = FULL");
      // A checkpoint syncs the log before copying it: what was committed
      // meanwhile is on disk before its replies go.
      this.#db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
    }
    console.error(
      `chat: cannot sync ${this.path}-wal (${reason}); each commit now waits for the disk`,
    );
  }

  transaction<T>(fn: () => T): T {
    const nested = this.#depth > 0;
    const savepoint = `nested_${this.#depth}`;
    // What is pending belongs to the enclosing transaction: written before
    // the savepoint, so that undoing the savepoint cannot undo it, and so
    // that whatever is pending at an undo was appended inside it.
    if (nested) this.#writePublicRows();
    const clientIdsMark = this.#clientIds.mark();
    this.#guard(() =>
      this.#db.exec(nested ? `SAVEPOINT ${savepoint}` : "BEGIN IMMEDIATE")
    );
    this.#depth++;
    try {
      const result = fn();
      if (isThenable(result)) {
        throw new TypeError(
          "Store transactions need a synchronous function: an async one would commit before it finished",
        );
      }
      if (!nested) {
        this.#writePublicRows();
        if (this.#publicWriteFailure !== null) {
          throw this.#publicWriteFailure.error;
        }
        for (const [key, at] of this.#touches) this.#writeTouch(key, at);
        this.#touches.clear();
      }
      this.#db.exec(nested ? `RELEASE ${savepoint}` : "COMMIT");
      if (!nested) {
        this.#clientIds.settle();
        this.#afterCommit();
      }
      return result;
    } catch (error) {
      if (!nested) this.#touches.clear();
      this.#publicRows = [];
      this.#sentIdRows = [];
      this.#forgetPositions();
      this.#owedStale = true;
      this.#sweepAll();
      this.#clientIds.undoTo(clientIdsMark);
      // Undoing this savepoint undoes a partial write made inside it.
      if ((this.#publicWriteFailure?.depth ?? -1) >= this.#depth) {
        this.#publicWriteFailure = null;
      }
      this.#undo(nested, savepoint);
      throw translate(error, this.path);
    } finally {
      this.#depth--;
      if (!nested) this.#publicWriteFailure = null;
    }
  }

  full(): boolean {
    return this.#full;
  }

  /**
   * Asks for a checkpoint now and then (checkpointer.ts), and reads the
   * size now and then (see StoreOptions.capCheckEvery).
   */
  #afterCommit(): void {
    const checkpointer = this.#checkpointer;
    if (checkpointer !== null && checkpointer.committed(this.#written())) {
      // The worker fell behind: as SQLite would have, here (see
      // checkpointer.ts). A checkpoint that could not copy everything
      // leaves the log to grow until the next one.
      const result = this.#get("PRAGMA wal_checkpoint(PASSIVE)");
      checkpointer.checkpointedHere(
        this.#written(),
        Number(result?.busy) !== 0,
      );
    }
    if (this.#maxBytes === 0 || this.#checking) return;
    if (
      ++this.#commitsSinceCheck >= this.#capCheckEvery ||
      Date.now() - this.#lastCheck >= CAP_CHECK_MS
    ) {
      this.#checkCap();
    }
  }

  /**
   * If the pages in use pass the cap, deletes the oldest messages no one is
   * still owed until they are under CAP_TARGET of it (a bounded amount per
   * check: the rest at the next); SQLite reuses the freed pages, so the
   * file stops growing. `full` when nothing is left to delete.
   */
  #checkCap(): void {
    if (this.#maxBytes === 0 || this.#checking) return;
    this.#checking = true;
    this.#commitsSinceCheck = 0;
    this.#lastCheck = Date.now();
    try {
      let used = this.usedBytes();
      let deletable = this.#mayHaveRoom || !this.#full;
      if (used > this.#maxBytes && deletable) {
        const target = this.#maxBytes * CAP_TARGET;
        const deadline = performance.now() + this.#capCheckBudgetMs;
        // The candidates, oldest first, taken in batches during this check.
        let queue: number[] | null = null;
        for (
          let batch = 0;
          batch < PRUNE_BATCHES_PER_CHECK && used > target &&
          performance.now() < deadline;
          batch++
        ) {
          const publicOnes = this.transaction(() =>
            this.#run(PRUNE_PUBLIC_SQL, PRUNE_BATCH)
          );
          if (publicOnes > 0) {
            used = this.usedBytes();
            continue;
          }
          if (this.#scanAll) {
            // One sweep of the whole table, a window of ids at a time (a
            // statement that looked until it found a batch read every
            // message when all were owed), resumed at the next check if
            // this one runs out of time.
            const from = this.#scanAfter;
            const to = from + SWEEP_WINDOW;
            const ids = this.#all(OWED_NOTHING_SQL, from, to, PRUNE_BATCH)
              .map((row) => integer(row, "id"));
            if (ids.length === PRUNE_BATCH) {
              this.#scanAfter = Math.max(from, ...ids);
            } else if (to < this.lastMessageId()) {
              this.#scanAfter = to;
            } else {
              this.#scanAll = false;
              this.#scanAfter = 0;
            }
            if (ids.length > 0) {
              this.#deleteMessages(ids);
              used = this.usedBytes();
            }
            continue;
          }
          queue ??= [...this.#freeCandidates].sort((a, b) => a - b);
          if (queue.length > 0) {
            const ids = queue.splice(0, PRUNE_BATCH);
            for (const id of ids) this.#freeCandidates.delete(id);
            const free = this.#all(STILL_FREE_SQL, JSON.stringify(ids))
              .map((row) => integer(row, "id"));
            if (free.length > 0) {
              this.#deleteMessages(free);
              used = this.usedBytes();
            }
            continue;
          }
          // Only messages still owed are left: rather than refuse everyone's
          // new messages, give up the oldest waiting for those owed the most
          // (a few at a time, and only past the cap itself: it loses them);
          // those no one else waits for are deleted in the next batch.
          if (used > this.#maxBytes) {
            const given = this.#dropFromFullestMailboxes(used);
            if (given.length > 0) {
              queue.push(...given);
              continue;
            }
          }
          deletable = false;
          this.#mayHaveRoom = false;
          break;
        }
      }
      this.#setFull(used > this.#maxBytes && !deletable, used);
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
   * Deletes these messages (their deliveries with them), keeping the last
   * seq of their conversations: the next message of each goes on from
   * there, even if these were the newest.
   */
  #deleteMessages(ids: number[]): void {
    const list = JSON.stringify(ids);
    this.transaction(() => {
      this.#run(KEEP_CONVERSATION_SEQS_SQL, list);
      this.#run(DELETE_MESSAGES_SQL, list);
    });
  }

  /** Pruning must look at every message again: its candidates may miss some. */
  #sweepAll(): void {
    this.#scanAll = true;
    this.#scanAfter = 0;
    this.#freeCandidates.clear();
  }

  /**
   * A private or group message that may now be owed to no one (kept even
   * during a sweep, which may have passed it already).
   */
  #mayBeFree(messageId: number): void {
    if (this.#maxBytes === 0) return;
    if (this.#freeCandidates.size >= MAX_FREE_CANDIDATES) this.#sweepAll();
    else this.#freeCandidates.add(messageId);
  }

  /**
   * Gives up the oldest DROP_BATCH messages waiting for the user owed the
   * most, for every user owed at least FULLEST_SHARE of that (marked
   * delivered, so that pruning can take them once no one else waits for
   * them; counted in dropped_deliveries for `takeDropped`). Returns the
   * ids of the messages it gave up deliveries of.
   */
  #dropFromFullestMailboxes(used: number): number[] {
    const owed = this.#owedNow();
    if (owed === null) return [];
    const fullest = owed.fullest(FULLEST_SHARE, FULLEST_USERS);
    if (fullest.length === 0) return [];
    const first = fullest[0]!;
    const given = this.transaction(() => {
      const rows = this.#all(
        DROP_OLDEST_OWED_SQL,
        first.userKey,
        DROP_BATCH,
        JSON.stringify(fullest.map((user) => user.userKey)),
      );
      const perUser = new Map<string, number>();
      const ids = new Set<number>();
      for (const row of rows) {
        const userKey = String(row.user_key);
        owed.remove(userKey, Number(row.bytes ?? 0) + DELIVERY_COST);
        perUser.set(userKey, (perUser.get(userKey) ?? 0) + 1);
        ids.add(integer(row, "message_id"));
      }
      for (const [userKey, count] of perUser) {
        this.#run(
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
      const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
      this.#notice(
        `The store is at its cap (${mib(used)} MiB in use, its cap is ${
          mib(this.#maxBytes)
        } MiB) and holds only messages still owed: giving up the oldest waiting for the ${fullest.length} user(s) owed the most (${first.userKey}: ${
          mib(first.bytes)
        } MiB waiting), who are told when they sign in; raise --max-store-mb to keep more`,
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
  #owedNow(): OwedMailboxes | null {
    const owed = this.#owed;
    if (owed === null || !this.#owedStale) return owed;
    owed.reset();
    for (const row of this.#all(OWED_SQL)) {
      const count = integer(row, "n");
      owed.set(
        String(row.user_key),
        count,
        Number(row.bytes) + count * DELIVERY_COST,
      );
    }
    this.#owedStale = false;
    return owed;
  }

  /** The user's waiting messages, counted again (a few, after a requeue). */
  #recountOwed(userKey: string): void {
    if (this.#owed === null || this.#owedStale) return;
    const row = this.#get(
      `SELECT count(*) AS n, coalesce(sum(length(m.body)), 0) AS bytes
       FROM deliveries d JOIN messages m ON m.id = d.message_id
       WHERE d.user_key = ? AND d.delivered = 0`,
      userKey,
    );
    const count = Number(row?.n ?? 0);
    this.#owed.set(
      userKey,
      count,
      Number(row?.bytes ?? 0) + count * DELIVERY_COST,
    );
  }

  takeDropped(userKey: string): number {
    const row = this.#get(
      "DELETE FROM dropped_deliveries WHERE user_key = ? RETURNING count",
      userKey,
    );
    return row === undefined ? 0 : integer(row, "count");
  }

  #setFull(full: boolean, used: number): void {
    if (full === this.#full) return;
    this.#full = full;
    const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
    this.#notice(
      full
        ? `The store is full (${mib(used)} MiB in use, its cap is ${
          mib(this.#maxBytes)
        } MiB) with what it cannot delete (accounts, groups, keys): new messages are refused until the cap is raised (--max-store-mb)`
        : `The store has room again (${
          mib(used)
        } MiB in use): new messages are accepted`,
    );
  }

  /**
   * Bytes in the database's pages in use (free pages left out: SQLite
   * reuses them). Two PRAGMAs: cheap, but not for every message.
   */
  usedBytes(): number {
    const row = this.#get(
      `SELECT (p.page_count - f.freelist_count) * s.page_size AS n
       FROM pragma_page_count() p, pragma_freelist_count() f,
            pragma_page_size() s`,
    );
    return Number(row?.n ?? 0);
  }

  close(): void {
    if (!this.#db.isOpen) return;
    if (this.#depth > 0) {
      throw new Error("Cannot close the store inside a transaction");
    }
    try {
      // SQLite's advice for long-lived connections: keeps the planner's
      // statistics current as tables grow. Cheap, and optional.
      this.#db.exec("PRAGMA optimize");
    } catch {
      // A read-only or busy database can still be closed.
    }
    this.#statements.clear();
    // Its connection closed first: this one, the last, checkpoints all of
    // the log into the database file and removes it.
    this.#checkpointer?.close();
    this.#db.close();
    this.#walSync?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Runs SQLite's full consistency check; returns the problems it reports,
   * none for a sound database. Reads the whole file: for tools, not for
   * every start.
   */
  integrityCheck(): string[] {
    let rows: Row[];
    try {
      rows = this.#all("PRAGMA integrity_check");
    } catch (error) {
      // Damage to the structures the check walks stops it short; that is
      // its finding too.
      if (error instanceof StoreError && error.code === "corrupt") {
        return [error.message];
      }
      throw error;
    }
    const problems = rows.map((row) => text(row, "integrity_check"));
    return problems.length === 1 && problems[0] === "ok" ? [] : problems;
  }

  // Users.

  getUser(nameKey: string): UserRecord | undefined {
    const row = this.#get(`${USER_SELECT} WHERE name_key = ?`, nameKey);
    return row === undefined ? undefined : toUser(row);
  }

  listUsers(): UserRecord[] {
    return this.#all(`${USER_SELECT} ORDER BY id`).map(toUser);
  }

  ensureUser(name: string, nameKey: string, now: Timestamp): UserRecord {
    const row = this.#get(
      `INSERT INTO users (name_key, name, created_at) VALUES (?, ?, ?)
       ON CONFLICT (name_key) DO UPDATE SET name = excluded.name
       RETURNING ${USER_COLUMNS}`,
      nameKey,
      name,
      now,
    );
    if (row === undefined) throw new Error("INSERT ... RETURNING gave no row");
    return toUser(row);
  }

  bindFingerprint(nameKey: string, fingerprint: string): BindResult {
    return this.transaction(() => {
      const bound = this.#run(
        `UPDATE users SET fingerprint = ?
         WHERE name_key = ? AND fingerprint IS NULL`,
        fingerprint,
        nameKey,
      );
      if (bound > 0) return "bound";
      const user = this.getUser(nameKey);
      if (user === undefined) {
        throw new Error(`User ${nameKey} is not in the store`);
      }
      return user.fingerprint === fingerprint ? "matched" : "mismatch";
    });
  }

  getPrekeys(nameKey: string): StoredPrekeys | undefined {
    const row = this.#get(
      "SELECT name, fingerprint, bundle FROM prekeys WHERE name_key = ?",
      nameKey,
    );
    if (row === undefined) return undefined;
    return {
      name: text(row, "name"),
      fingerprint: text(row, "fingerprint"),
      bundle: text(row, "bundle"),
    };
  }

  putPrekeys(nameKey: string, prekeys: StoredPrekeys | null): void {
    if (prekeys === null) {
      this.#run("DELETE FROM prekeys WHERE name_key = ?", nameKey);
      return;
    }
    this.#run(
      `INSERT INTO prekeys (name_key, name, fingerprint, bundle)
       VALUES (?, ?, ?, ?)
       ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
         fingerprint = excluded.fingerprint, bundle = excluded.bundle`,
      nameKey,
      prekeys.name,
      prekeys.fingerprint,
      prekeys.bundle,
    );
  }

  releaseName(nameKey: string): boolean {
    return this.#run(
      `UPDATE users SET fingerprint = NULL
       WHERE name_key = ? AND fingerprint IS NOT NULL`,
      nameKey,
    ) > 0;
  }

  touchSeen(nameKey: string, at: Timestamp): boolean {
    return this.#run(
      "UPDATE users SET last_seen = ? WHERE name_key = ?",
      at,
      nameKey,
    ) > 0;
  }

  touchMessage(nameKey: string, at: Timestamp): boolean {
    if (this.#depth > 0) {
      // Written once per user at commit: a run of messages from one sender
      // would otherwise rewrite the same row once per message.
      const earlier = this.#touches.get(nameKey);
      if (earlier !== undefined) {
        this.#touches.set(nameKey, Math.max(at, earlier));
        return true;
      }
      if (!this.#known(nameKey)) return false;
      this.#touches.set(nameKey, at);
      return true;
    }
    return this.#writeTouch(nameKey, at);
  }

  #known(nameKey: string): boolean {
    return this.#get("SELECT 1 FROM users WHERE name_key = ?", nameKey) !==
      undefined;
  }

  #writeTouch(nameKey: string, at: Timestamp): boolean {
    return this.#run(
      "UPDATE users SET last_message_at = ? WHERE name_key = ?",
      at,
      nameKey,
    ) > 0;
  }

  // Groups and membership.

  getGroup(key: string): GroupRecord | undefined {
    const row = this.#get(`${GROUP_SELECT} WHERE group_key = ?`, key);
    return row === undefined ? undefined : toGroup(row);
  }

  listGroups(): GroupRecord[] {
    return this.#all(`${GROUP_SELECT} ORDER BY id`).map(toGroup);
  }

  createGroup(
    name: string,
    key: string,
    createdBy: string,
    at: Timestamp,
  ): GroupRecord {
    return this.transaction(() => {
      if (this.getGroup(key) !== undefined) {
        throw new Error(`Group ${key} already exists`);
      }
      this.#run(
        `INSERT INTO groups (group_key, name, created_by, created_at)
         VALUES (?, ?, ?, ?)`,
        key,
        name,
        createdBy,
        at,
      );
      return { name, key, createdBy, createdAt: at };
    });
  }

  addMember(
    groupKey: string,
    userKey: string,
    userName: string,
    at: Timestamp,
  ): boolean {
    // The unique index on current periods makes a second join a no-op.
    return this.#run(
      `INSERT INTO memberships (group_key, user_key, user_name, joined_at)
       VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
      groupKey,
      userKey,
      userName,
      at,
    ) > 0;
  }

  removeMember(groupKey: string, userKey: string, at: Timestamp): boolean {
    const left = this.#run(
      `UPDATE memberships SET left_at = ?
       WHERE group_key = ? AND user_key = ? AND left_at IS NULL`,
      at,
      groupKey,
      userKey,
    ) > 0;
    // Only the newest periods are kept: joining and leaving in a loop would
    // otherwise add rows without end, which the store's cap then takes back
    // from the messages.
    if (left) {
      this.#run(
        `DELETE FROM memberships
         WHERE group_key = ? AND user_key = ? AND id IN (
           SELECT id FROM memberships WHERE group_key = ? AND user_key = ?
           ORDER BY id DESC LIMIT -1 OFFSET ?)`,
        groupKey,
        userKey,
        groupKey,
        userKey,
        MEMBERSHIP_PERIODS_KEPT,
      );
    }
    return left;
  }

  members(groupKey: string): MemberRecord[] {
    return this.#all(
      `SELECT user_key, user_name, joined_at FROM memberships
       WHERE group_key = ? AND left_at IS NULL
       ORDER BY id`,
      groupKey,
    ).map((row) => ({
      userKey: text(row, "user_key"),
      userName: text(row, "user_name"),
      joinedAt: integer(row, "joined_at"),
    }));
  }

  groupsOf(userKey: string): GroupRecord[] {
    return this.#all(
      `SELECT g.group_key, g.name, g.created_by, g.created_at
       FROM memberships m JOIN groups g ON g.group_key = m.group_key
       WHERE m.user_key = ? AND m.left_at IS NULL
       ORDER BY g.id`,
      userKey,
    ).map(toGroup);
  }

  membershipPeriods(groupKey: string, userKey: string): MembershipPeriod[] {
    return this.#all(
      `SELECT joined_at, left_at FROM memberships
       WHERE group_key = ? AND user_key = ?
       ORDER BY id`,
      groupKey,
      userKey,
    ).map((row) => ({
      joinedAt: integer(row, "joined_at"),
      leftAt: integerOrNull(row, "left_at"),
    }));
  }

  // Messages.

  appendPublic(message: NewPublicMessage): MessagePosition {
    this.#mayHaveRoom = true;
    const position = this.#nextPosition(
      PUBLIC_CONVERSATION,
      () =>
        this.#lastSeqWhere(
          `SELECT seq FROM messages WHERE kind = 'public'
         ORDER BY id DESC LIMIT 1`,
        ),
      message.at,
    );
    const rows = this.#publicRows;
    rows.push(
      position.id,
      position.seq,
      message.ts,
      message.fromKey,
      message.fromName,
      message.body,
    );
    // Outside a transaction nothing waits for a commit; inside, a bound on
    // what is held.
    if (this.#depth === 0 || rows.length >= PUBLIC_ROWS_HELD * PUBLIC_COLUMNS) {
      try {
        this.#writePublicRows();
      } catch (error) {
        if (this.#depth === 0) this.#forgetPositions();
        throw error;
      }
    }
    // Writing it flushes the held rows: only messages with a client id
    // (from clients that retry) lose the batching.
    if (message.clientId !== undefined) {
      this.#recordClientId(message.fromKey, message.clientId, position);
    }
    return position;
  }

  sentWithClientId(
    fromKey: string,
    clientId: string,
  ): MessagePosition | undefined {
    // In memory, so that the check reads nothing and writes no held row.
    return this.#clientIds.get(fromKey, clientId);
  }

  /**
   * Remembers a message's client id, in memory for sentWithClientId and in
   * sent_ids for the next start, held like public rows. Every
   * SENT_IDS_TRIM_EVERY of them the table forgets what memory has forgotten
   * (the oldest beyond SENT_IDS_KEPT): a retry comes within seconds of the
   * first try, and the table stays a few megabytes at most.
   */
  #recordClientId(
    fromKey: string,
    clientId: string,
    position: MessagePosition,
  ): void {
    // The first position stays (the store test "client ids recorded in a
    // transaction ..." pins it).
    const mark = this.#clientIds.mark();
    if (!this.#clientIds.add(fromKey, clientId, position)) return;
    // Appended in id order: the table has no index on the random client
    // ids to keep up (recent_client_ids.ts says why).
    const rows = this.#sentIdRows;
    rows.push(position.id, position.seq, fromKey, clientId);
    if (
      this.#depth === 0 || rows.length >= PUBLIC_ROWS_HELD * SENT_ID_COLUMNS
    ) {
      try {
        this.#writePublicRows();
      } catch (error) {
        // Inside a transaction, its rollback undoes it.
        if (this.#depth === 0) this.#clientIds.undoTo(mark);
        throw error;
      }
    }
    if (this.#depth === 0) this.#clientIds.settle();
    if (++this.#sentIdsSinceTrim < SENT_IDS_TRIM_EVERY) return;
    this.#sentIdsSinceTrim = 0;
    // By the primary key: finding the cut-off in the table (an OFFSET of
    // SENT_IDS_KEPT rows) cost about 7 µs a message.
    const forgottenBefore = this.#clientIds.forgottenBefore();
    if (forgottenBefore === undefined) return;
    this.#run("DELETE FROM sent_ids WHERE message_id < ?", forgottenBefore);
  }

  /**
   * The id and seq for the next message of conversation `key`; `readSeq`
   * reads the conversation's last seq from the database when not known.
   * Reading flushes held public rows first (#statement), which are counted
   * in what is known: the two cannot disagree.
   */
  #nextPosition(
    key: string,
    readSeq: () => number,
    at?: MessagePosition,
  ): MessagePosition {
    const lastId = this.lastMessageId();
    if (at !== undefined) {
      // A shared log's position (issue 19): ids still only grow.
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
    const seq = (this.#lastSeq.get(key) ?? readSeq()) + 1;
    const id = lastId + 1;
    this.#lastId = id;
    this.#lastSeq.set(key, seq);
    return { id, seq };
  }

  logPosition(): number {
    const row = this.#get(
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
    this.#run(
      `INSERT INTO meta (key, value) VALUES ('log_position', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value
         WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)`,
      String(seq),
    );
  }

  lastMessageId(): number {
    if (this.#lastId !== null) return this.#lastId;
    // sqlite_sequence remembers ids of deleted rows too (AUTOINCREMENT).
    const row = this.#get(
      `SELECT max(coalesce((SELECT seq FROM sqlite_sequence
                            WHERE name = 'messages'), 0),
                  coalesce((SELECT max(id) FROM messages), 0)) AS n`,
    );
    return Number(row?.n ?? 0);
  }

  #lastSeqWhere(sql: string, ...params: SQLInputValue[]): number {
    const row = this.#get(sql, ...params);
    return row === undefined ? 0 : integer(row, "seq");
  }

  #forgetPositions(): void {
    this.#lastId = null;
    this.#lastSeq.clear();
  }

  /**
   * Writes the pending public messages, in order, and the client ids held
   * with them, in as few statements as it can: one multi-row INSERT costs
   * about half as much per row as one INSERT per message (measured with
   * node:sqlite on a WAL database, 1.8 -> 0.9 µs a row), and a busy room
   * stores tens of thousands a second.
   */
  #writePublicRows(): void {
    const publicRows = this.#publicRows;
    const sentIdRows = this.#sentIdRows;
    if (publicRows.length === 0 && sentIdRows.length === 0) return;
    // Taken first: the statements below must not find them pending again.
    this.#publicRows = [];
    this.#sentIdRows = [];
    try {
      this.#insertRows(publicRows, PUBLIC_COLUMNS, publicInsertSql);
      this.#insertRows(sentIdRows, SENT_ID_COLUMNS, sentIdInsertSql);
    } catch (error) {
      if (this.#depth > 0) {
        this.#publicWriteFailure ??= { depth: this.#depth, error };
      }
      throw error;
    }
  }

  /** `rows` (`columns` values each) in as few INSERTs as it can. */
  #insertRows(
    rows: SQLInputValue[],
    columns: number,
    sqlFor: (count: number) => string,
  ): void {
    const total = rows.length / columns;
    let written = 0;
    while (written < total) {
      const count = PUBLIC_INSERT_SIZES.find((n) => n <= total - written)!;
      const params = rows.slice(written * columns, (written + count) * columns);
      this.#guard(() => this.#prepared(sqlFor(count)).run(...params));
      written += count;
    }
  }

  appendMessage(message: NewMessage): MessagePosition {
    this.#mayHaveRoom = true;
    const toKey = message.kind === "private" ? message.toKey : null;
    const groupKey = message.kind === "group" ? message.groupKey : null;
    // One statement is atomic by itself; a savepoint per public message
    // cost as much as the insert.
    const atomic = message.recipients.length === 0 && this.#depth > 0
      ? <T>(fn: () => T) => fn()
      : <T>(fn: () => T) => this.transaction(fn);
    return atomic(() => {
      const position = this.#nextPosition(
        conversationKey(message),
        () => this.#readLastSeq(message),
        message.at,
      );
      const { id, seq } = position;
      this.#run(
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
        toKey,
        groupKey,
        message.body,
        message.kind === "private" ? message.e2eFingerprint ?? null : null,
        message.kind === "group" ? message.e2eFingerprint ?? null : null,
      );
      if (message.clientId !== undefined) {
        this.#recordClientId(message.fromKey, message.clientId, position);
      }
      // With a cap: who waits for it (a recipient listed twice waits only if
      // both say so: the row is delivered if either does), for what each is
      // owed, and whether it is owed to no one at all.
      const waits = this.#maxBytes === 0 ? null : new Map<string, boolean>();
      for (const recipient of message.recipients) {
        waits?.set(
          recipient.userKey,
          (waits.get(recipient.userKey) ?? true) && !recipient.delivered,
        );
        // A recipient listed twice counts once, delivered if either says so.
        this.#run(
          `INSERT INTO deliveries (message_id, user_key, delivered)
           VALUES (?, ?, ?)
           ON CONFLICT (message_id, user_key) DO UPDATE
             SET delivered = max(delivered, excluded.delivered)`,
          id,
          recipient.userKey,
          recipient.delivered ? 1 : 0,
        );
      }
      if (waits !== null) {
        const owed = this.#owedStale ? null : this.#owed;
        let owedToSomeone = false;
        for (const [userKey, waiting] of waits) {
          if (!waiting) continue;
          owedToSomeone = true;
          owed?.add(userKey, message.body.byteLength + DELIVERY_COST);
        }
        if (!owedToSomeone && message.kind !== "public") this.#mayBeFree(id);
      }
      return position;
    });
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
        return this.#lastSeqWhere(
          `SELECT seq FROM messages WHERE kind = 'public'
           ORDER BY id DESC LIMIT 1`,
        );
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
    if (this.#maxBytes === 0) {
      const changes = this.#run(sql, ...params);
      if (changes > 0) this.#mayHaveRoom = true;
      return changes;
    }
    const rows = this.#all(`${sql} ${RETURNING_SIZES}`, ...params);
    if (rows.length === 0) return 0;
    this.#mayHaveRoom = true;
    const owed = this.#owedStale ? null : this.#owed;
    for (const row of rows) {
      owed?.remove(userKey, Number(row.bytes ?? 0) + DELIVERY_COST);
      this.#mayBeFree(integer(row, "message_id"));
    }
    return rows.length;
  }

  requeueSince(userKey: string, since: number): number {
    const requeued = this.#run(
      // `kind <> 'public'` as a literal lets SQLite use the partial index.
      `UPDATE deliveries SET delivered = 0
       WHERE user_key = ? AND delivered = 1
         AND message_id IN (
           SELECT id FROM messages WHERE kind <> 'public' AND ts >= ?)`,
      userKey,
      since,
    );
    if (requeued > 0) this.#recountOwed(userKey);
    return requeued;
  }

  pendingFor(userKey: string, limit: number, afterId = 0): StoredMessage[] {
    checkLimit(limit);
    // `delivered = 0` as a literal lets SQLite use the partial index.
    return this.#all(
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

  history(
    query: HistoryQuery,
    limit: number,
    maxBodyBytes = Number.POSITIVE_INFINITY,
  ): StoredMessage[] {
    checkLimit(limit);
    let rows: Row[];
    // Newest first: rows are read one by one and no more once the bodies
    // pass the budget, so a big history costs no more than the budget.
    const newest = (sql: string, ...params: SQLInputValue[]) =>
      this.#guard(() => {
        const out: Row[] = [];
        let bytes = 0;
        for (
          const row of this.#statement(sql).iterate(...params) as Iterable<Row>
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
           WHERE m.kind = 'public'
           ORDER BY m.id DESC
           LIMIT ?`,
          limit,
        );
        break;
      case "group":
        // Entitlement was fixed when each message was sent: the viewer sees
        // what they sent and what they were a recipient of, which leaves out
        // everything from before they joined or while they had left.
        rows = newest(
          `${MESSAGE_SELECT}
           WHERE m.kind = 'group' AND m.group_key = ?
             AND (m.from_key = ? OR EXISTS (
               SELECT 1 FROM deliveries d
               WHERE d.message_id = m.id AND d.user_key = ?))
           ORDER BY m.id DESC
           LIMIT ?`,
          query.groupKey,
          query.viewerKey,
          query.viewerKey,
          limit,
        );
        break;
      case "private":
        // One indexed range per direction, each cut to the limit first.
        rows = newest(
          `${MESSAGE_SELECT}
           WHERE m.id IN (
             SELECT id FROM (
               SELECT id FROM messages
               WHERE kind = 'private' AND from_key = ? AND to_key = ?
               ORDER BY id DESC LIMIT ?)
             UNION ALL
             SELECT id FROM (
               SELECT id FROM messages
               WHERE kind = 'private' AND from_key = ? AND to_key = ?
               ORDER BY id DESC LIMIT ?))
           ORDER BY m.id DESC
           LIMIT ?`,
          query.viewerKey,
          query.otherKey,
          limit,
          query.otherKey,
          query.viewerKey,
          limit,
          limit,
        );
        break;
      default: {
        const unknown: never = query;
        throw new TypeError(
          `Unknown history kind ${(unknown as { kind: unknown }).kind}`,
        );
      }
    }
    return rows.reverse().map(toMessage);
  }

  // File transfers.

  recordTransfer(transfer: NewTransfer): number {
    const toKey = "toKey" in transfer ? transfer.toKey : null;
    const groupKey = "groupKey" in transfer ? transfer.groupKey : null;
    return this.transaction(() => {
      // Wire ids restart with the server, so an unfinished record with this
      // id is from a run that ended before the transfer did. Its true end is
      // unknown; this start is the latest it can have been.
      this.#run(
        `UPDATE transfers SET finished_at = ?, outcome = ?
         WHERE xfer_id = ? AND finished_at IS NULL`,
        transfer.startedAt,
        TRANSFER_INTERRUPTED,
        transfer.id,
      );
      const row = this.#get(
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
      this.#run(
        "DELETE FROM transfers WHERE id <= ? AND finished_at IS NOT NULL",
        recordId - TRANSFERS_KEPT,
      );
      return recordId;
    });
  }

  finishTransfer(id: number, result: TransferResult): boolean {
    const outcome = clip(result.outcome, MAX_OUTCOME_CHARS);
    return this.#run(
      `UPDATE transfers SET finished_at = ?, outcome = ?
       WHERE xfer_id = ? AND finished_at IS NULL`,
      result.finishedAt,
      outcome,
      id,
    ) > 0;
  }

  interruptTransfers(at: Timestamp): number {
    return this.#run(
      `UPDATE transfers SET finished_at = ?, outcome = ?
       WHERE finished_at IS NULL`,
      at,
      TRANSFER_INTERRUPTED,
    );
  }

  recentTransfers(limit: number): TransferRecord[] {
    checkLimit(limit);
    return this.#all(
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

  /**
   * The statement for `sql`. Pending public messages are written first:
   * whatever this statement reads or writes comes after them.
   */
  #statement(sql: string): StatementSync {
    this.#writePublicRows();
    return this.#prepared(sql);
  }

  // Statements are prepared once per SQL text and reused.
  #prepared(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#guard(() => this.#statement(sql).get(...params));
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#guard(() => this.#statement(sql).all(...params));
  }

  /** Returns how many rows changed. */
  #run(sql: string, ...params: SQLInputValue[]): number {
    const changes = this.#guard(() =>
      Number(this.#statement(sql).run(...params).changes)
    );
    return changes;
  }

  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw translate(error, this.path);
    }
  }

  #undo(nested: boolean, savepoint: string): void {
    // SQLite rolls back by itself after some errors (a full disk, say);
    // there is then nothing left to undo.
    if (!this.#db.isTransaction) return;
    try {
      if (nested) {
        this.#db.exec(`ROLLBACK TO ${savepoint}`);
        this.#db.exec(`RELEASE ${savepoint}`);
      } else {
        this.#db.exec("ROLLBACK");
      }
    } catch {
      // The error that caused the rollback is the one worth reporting.
    }
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
 * Gives up the oldest messages waiting for one user (?1, at most ?2 of
 * them) for every user in a JSON array (?3) who also waits for them: marked
 * delivered, which is what lets pruning take a message. Returns each
 * delivery given up with its user and the body's size.
 */
/** Added to an UPDATE of deliveries: each row's message and body size. */
const RETURNING_SIZES = `
  RETURNING message_id,
    (SELECT length(body) FROM messages WHERE id = message_id) AS bytes`;

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

const DROP_OLDEST_OWED_SQL = `
  UPDATE deliveries SET delivered = 1
  WHERE delivered = 0
    AND message_id IN (
      SELECT message_id FROM deliveries
      WHERE user_key = ?1 AND delivered = 0
      ORDER BY message_id LIMIT ?2)
    AND user_key IN (SELECT value FROM json_each(?3))
  RETURNING user_key, message_id,
    (SELECT length(body) FROM messages WHERE id = message_id) AS bytes`;

/**
 * What waits for each user: messages and bytes of body. The sizes are read
 * once per message into a small table first: looking each delivery's
 * message up in the table of bodies took 11x as long (2 million deliveries
 * of 4,000 messages of 16 KB: 5.7 s against 0.53 s).
 */
const OWED_SQL = `
  WITH sizes AS MATERIALIZED (
    SELECT id, length(body) AS size FROM messages WHERE kind <> 'public')
  SELECT d.user_key AS user_key, count(*) AS n,
         coalesce(sum(s.size), 0) AS bytes
  FROM deliveries d JOIN sizes s ON s.id = d.message_id
  WHERE d.delivered = 0
  GROUP BY d.user_key`;

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
 * conversationKey does. `WHERE true` is SQLite's way to tell an upsert's
 * ON CONFLICT from the SELECT's.
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

/**
 * How many client ids (of the newest messages sent with one) the store keeps
 * to recognise retries, and how often it forgets older ones.
 */
export const SENT_IDS_KEPT = 100_000;
/**
 * Transfer records kept, the newest: a record is history no reply reads,
 * and each may hold a name of 1024 characters and an outcome per recipient.
 */
export const TRANSFERS_KEPT = 1000;
/** Periods of membership kept per user and group, the newest. */
export const MEMBERSHIP_PERIODS_KEPT = 16;
/** A transfer's recorded outcome is cut to this many characters. */
export const MAX_OUTCOME_CHARS = 4096;
const SENT_IDS_TRIM_EVERY = 1024;

/** Values per pending public message: id, seq, ts, from_key, from_name, body. */
const PUBLIC_COLUMNS = 6;
/** Rows per multi-row INSERT, largest first; 1 ends every run. */
const PUBLIC_INSERT_SIZES = [64, 16, 4, 1];
/** Public messages held in a transaction before they are written anyway. */
const PUBLIC_ROWS_HELD = 256;

/** Values per pending client id: message_id, seq, from_key, client_id. */
const SENT_ID_COLUMNS = 4;

function sentIdInsertSql(rows: number): string {
  return `INSERT INTO sent_ids (message_id, seq, from_key, client_id)
    VALUES ${Array(rows).fill("(?, ?, ?, ?)").join(", ")}`;
}

function publicInsertSql(rows: number): string {
  return `INSERT INTO messages (id, seq, ts, kind, from_key, from_name, body)
    VALUES ${Array(rows).fill("(?, ?, ?, 'public', ?, ?, ?)").join(", ")}`;
}

/** The seq counter's key: one per conversation. */
const PUBLIC_CONVERSATION = "public";

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

const USER_COLUMNS =
  "name_key, name, fingerprint, created_at, last_seen, last_message_at";
const USER_SELECT = `SELECT ${USER_COLUMNS} FROM users`;
const GROUP_SELECT =
  "SELECT group_key, name, created_by, created_at FROM groups";
const MESSAGE_SELECT = `
  SELECT m.id, m.seq, m.ts, m.kind, m.from_key, m.from_name, m.to_key,
         tu.name AS to_name, m.group_key, g.name AS group_name, m.body,
         m.e2e_fingerprint, m.e2e_group_fingerprint
  FROM messages m
  LEFT JOIN users tu ON tu.name_key = m.to_key
  LEFT JOIN groups g ON g.group_key = m.group_key`;

/** What configure() set up for the write-ahead log. */
interface LogSetup {
  /** WalSync syncs the log (synchronous FULL asked for in WAL mode). */
  walSync: boolean;
  /** A Checkpointer moves the log into the database file (WAL mode). */
  checkpointInWorker: boolean;
}

/**
 * Sets the database up; returns whether commits must be made durable by
 * syncing the write-ahead log ourselves ({@link WalSync}) and whether the
 * log is checkpointed by a worker ({@link Checkpointer}).
 */

function configure(
  db: DatabaseSync,
  memory: boolean,
  options: StoreOptions,
): LogSetup {
  let synchronous = options.synchronous ?? "NORMAL";
  let walSync = false;
  let checkpointInWorker = false;
  if (!memory) {
    const mode = db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode;
    if (mode !== "wal") {
      // Some file systems cannot do WAL and SQLite keeps a rollback journal,
      // which needs FULL to stay intact on power loss.
      synchronous = "FULL";
    } else {
      // No checkpoint inside the server's commits: checkpointer.ts.
      db.exec("PRAGMA wal_autocheckpoint = 0");
      checkpointInWorker = true;
    }
    if (mode === "wal" && synchronous === "FULL") {
      // FULL would fsync the log inside every COMMIT, blocking the server's
      // only thread for each message (0.14 ms median here, several ms at
      // times). The log is written at COMMIT either way; WalSync flushes it
      // to disk from a worker thread before any reply confirms it.
      synchronous = "NORMAL";
      walSync = true;
    }
  }
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec("PRAGMA foreign_keys = ON");
  db.exec(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
  // The file may come from anywhere: never run SQL functions its schema
  // names with side effects.
  db.exec("PRAGMA trusted_schema = OFF");
  return { walSync, checkpointInWorker };
}

function isThenable(value: unknown): boolean {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/** `text` cut to at most `chars` UTF-16 units, marked with an ellipsis. */
function clip(text: string, chars: number): string {
  if (text.length <= chars) return text;
  let kept = text.slice(0, chars - 1);
  // Not half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(kept)) kept = kept.slice(0, -1);
  return `${kept}\u2026`;
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`Limit must be a non-negative integer, got ${limit}`);
  }
}

/** The id migration 8 made for this database. */
function readStoreId(db: DatabaseSync): string {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'store_id'")
    .get() as { value?: unknown } | undefined;
  const id = row?.value;
  if (typeof id !== "string" || !/^[0-9a-f]{32}$/.test(id)) {
    throw new StoreError("corrupt", "The database has no valid store id");
  }
  return id;
}
