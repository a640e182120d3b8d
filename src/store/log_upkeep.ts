/**
 * The write-ahead log's upkeep for the store's one connection: how the
 * database is set up for it (`configure`), commits made durable off the
 * event loop (wal_sync.ts), and checkpoints run by a worker
 * (checkpointer.ts); each falls back to SQLite doing it in the commits if
 * ours cannot.
 */

import type { DatabaseSync } from "node:sqlite";
import { type CheckpointCounts, Checkpointer } from "./checkpointer.ts";
import type { Transactions } from "./transactions.ts";
import { WalSync } from "./wal_sync.ts";

// About SQLite's own 1000 pages of log for the server's writes: at 200
// public messages a second to 100 users the log grew by 0.7-0.9 pages a row
// (issue 21's latency bench).
const DEFAULT_CHECKPOINT_EVERY_ROWS = 1024;
// SQLite's default, for when the worker cannot checkpoint.
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

// Each time the log starts again from its beginning (once all of it is
// copied, every 1024 rows or so) its file is cut to nothing: frames past the
// new writes were kept until written over, and with them copies of pages
// from before a delete that secure_delete had zeroed in the database (up to
// 64 MiB of them, the limit this was). Over 20000 commits of one message
// each, a commit took no longer this way than the other, within the noise.
const JOURNAL_SIZE_LIMIT_BYTES = 0;

/** What configure() set up for the write-ahead log. */
export interface LogSetup {
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
export function configure(
  db: DatabaseSync,
  memory: boolean,
  asked: "NORMAL" | "FULL",
): LogSetup {
  let synchronous = asked;
  let walSync = false;
  let checkpointInWorker = false;
  // A new store gives the pages of what it deleted back to the disk, a few
  // at a time (store_cap.ts): set before its first table, as SQLite
  // requires. An older store keeps auto_vacuum off (turning it on takes a
  // VACUUM, a full copy of the file).
  const fresh = Number(
    db.prepare("SELECT count(*) AS n FROM sqlite_schema").get()?.n,
  ) === 0;
  if (fresh) db.exec("PRAGMA auto_vacuum = INCREMENTAL");
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
      // only thread for each message, for as long as the disk takes. The
      // log is written at COMMIT either way; WalSync flushes it
      // to disk from a worker thread before any reply confirms it.
      synchronous = "NORMAL";
      walSync = true;
    }
  }
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec("PRAGMA foreign_keys = ON");
  // What is deleted (messages past the cap or a release, the addresses of
  // the hourly budgets after two hours) is overwritten with zeros, not
  // left readable in free pages of the file for whoever copies it later.
  db.exec("PRAGMA secure_delete = ON");
  db.exec(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
  // The file may come from anywhere: never run SQL functions its schema
  // names with side effects.
  db.exec("PRAGMA trusted_schema = OFF");
  return { walSync, checkpointInWorker };
}

export interface LogUpkeepOptions {
  /** The database file, or ":memory:". */
  path: string;
  setup: LogSetup;
  busyTimeoutMs: number;
  /** Rows between two checkpoints; Infinity for none but the one at close. */
  checkpointEveryRows: number | undefined;
}

export class LogUpkeep {
  readonly #db: DatabaseSync;
  readonly #tx: Transactions;
  readonly #path: string;
  /** Syncs the write-ahead log off the event loop; null: SQLite does it. */
  #walSync: WalSync | null;
  /** Checkpoints the log off the event loop; null: SQLite does, or no log. */
  #checkpointer: Checkpointer | null = null;

  constructor(db: DatabaseSync, tx: Transactions, options: LogUpkeepOptions) {
    this.#db = db;
    this.#tx = tx;
    this.#path = options.path;
    const written = this.written();
    this.#walSync = options.setup.walSync
      ? new WalSync(options.path, (reason) => this.#syncFailed(reason), written)
      : null;
    if (options.setup.checkpointInWorker) {
      this.#checkpointer = new Checkpointer({
        path: options.path,
        busyTimeoutMs: options.busyTimeoutMs,
        everyRows: options.checkpointEveryRows ??
          DEFAULT_CHECKPOINT_EVERY_ROWS,
        onFailure: (reason) => this.#checkpointFailed(reason),
      }, written);
    }
  }

  /** Rows written through this connection since it opened. */
  written(): number {
    return Number(this.#tx.get("SELECT total_changes() AS n")?.n);
  }

  /** See Store.durable: null when nothing waits for the disk. */
  durable(): Promise<void> | null {
    const walSync = this.#walSync;
    if (walSync === null) return null;
    // Rows written through this connection since it opened, committed or
    // not: whatever wrote them (a transaction, a lone statement) is covered.
    return walSync.after(this.written());
  }

  /** See SqliteStore.checkpoint. */
  checkpoint(): Promise<boolean> {
    return this.#checkpointer?.now(this.written()) ?? Promise.resolve(false);
  }

  startCheckpointer(): void {
    this.#checkpointer?.start();
  }

  get checkpointerRunning(): boolean {
    return this.#checkpointer?.running ?? false;
  }

  get checkpoints(): CheckpointCounts {
    return { ...(this.#checkpointer?.counts ?? { byWorker: 0, byWriter: 0 }) };
  }

  /** After each commit: asks for a checkpoint now and then. */
  committed(): void {
    const checkpointer = this.#checkpointer;
    if (checkpointer !== null && checkpointer.committed(this.written())) {
      // The worker fell behind: as SQLite would have, here (see
      // checkpointer.ts). A checkpoint that could not copy everything
      // leaves the log to grow until the next one.
      const result = this.#tx.get("PRAGMA wal_checkpoint(PASSIVE)");
      checkpointer.checkpointedHere(
        this.written(),
        Number(result?.busy) !== 0,
      );
    }
  }

  /** Before the connection closes: the worker's goes first. */
  closeCheckpointer(): void {
    // Its connection closed first: this one, the last, checkpoints all of
    // the log into the database file and removes it.
    this.#checkpointer?.close();
  }

  /** After the connection closed. */
  close(): void {
    this.#walSync?.close();
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
      `chat: cannot checkpoint ${this.#path} from a worker thread (${reason}); the server's thread does it from now on`,
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
      `chat: cannot sync ${this.#path}-wal (${reason}); each commit now waits for the disk`,
    );
  }
}
