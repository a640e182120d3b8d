/**
 * The store's transaction engine: its one connection's statements, cached
 * per SQL text; transactions that nest as savepoints; and the public
 * messages and client ids held back inside a transaction and written in
 * multi-row INSERTs, always before any other statement runs, so that
 * nothing reads or writes past them.
 *
 * What else a transaction holds (a sender's last-message time, message
 * positions, recent client ids, the cap's estimates) belongs to the query
 * groups that keep it: they take part through `TransactionHooks`.
 */

import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { translate } from "./sqlite_errors.ts";
import type { Row } from "./rows.ts";

/** What the rest of the store does at the edges of a transaction. */
export interface TransactionHooks {
  /**
   * Before BEGIN or a SAVEPOINT: a mark of what is held in memory, given
   * back to `rolledBack` if this level is undone.
   */
  begin(): number;
  /** The outermost transaction is about to commit: write what is held. */
  beforeCommit(): void;
  /** The outermost transaction committed. */
  committed(): void;
  /**
   * A transaction (`outermost`) or savepoint was undone: forget what was
   * held since `mark`, and what was read that it may have changed.
   */
  rolledBack(outermost: boolean, mark: number): void;
}

/** Values per held public message: id, seq, ts, from_key, from_name, body. */
const PUBLIC_COLUMNS = 6;
/** Values per held client id: message_id, seq, from_key, client_id. */
const SENT_ID_COLUMNS = 4;
/** Rows per multi-row INSERT, largest first; 1 ends every run. */
const INSERT_SIZES = [64, 16, 4, 1];
/** Rows of each kind held in a transaction before they are written anyway. */
export const ROWS_HELD = 256;

export class Transactions {
  readonly #db: DatabaseSync;
  /** For error messages: the path given to `openStore`, or ":memory:". */
  readonly #path: string;
  readonly #statements = new Map<string, StatementSync>();
  #hooks: TransactionHooks | null = null;
  // How many transaction() calls are running; above 0, calls nest as
  // savepoints.
  #depth = 0;
  /** Public messages not written yet, PUBLIC_COLUMNS values each. */
  #publicRows: SQLInputValue[] = [];
  /** Client ids not written yet, SENT_ID_COLUMNS values each. */
  #sentIdRows: SQLInputValue[] = [];
  /**
   * Where writing held rows failed: the transaction depth then, and the
   * error. Part of them may be written, and the caller that saw the error
   * may have caught it: the transaction must not commit.
   */
  #heldWriteFailure: { depth: number; error: unknown } | null = null;

  constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
  }

  /** Set once, by the store that the hooks belong to. */
  set hooks(hooks: TransactionHooks) {
    this.#hooks = hooks;
  }

  /** Inside a transaction (of any depth). */
  get active(): boolean {
    return this.#depth > 0;
  }

  transaction<T>(fn: () => T): T {
    const hooks = this.#hooks!;
    const nested = this.#depth > 0;
    const savepoint = `nested_${this.#depth}`;
    // What is held belongs to the enclosing transaction: written before
    // the savepoint, so that undoing the savepoint cannot undo it, and so
    // that whatever is held at an undo was held inside it.
    if (nested) this.writeHeld();
    const mark = hooks.begin();
    try {
      this.#db.exec(nested ? `SAVEPOINT ${savepoint}` : "BEGIN IMMEDIATE");
    } catch (error) {
      throw translate(error, this.#path);
    }
    this.#depth++;
    try {
      const result = fn();
      if (isThenable(result)) {
        throw new TypeError(
          "Store transactions need a synchronous function: an async one would commit before it finished",
        );
      }
      if (!nested) {
        this.writeHeld();
        if (this.#heldWriteFailure !== null) {
          throw this.#heldWriteFailure.error;
        }
        hooks.beforeCommit();
      }
      this.#db.exec(nested ? `RELEASE ${savepoint}` : "COMMIT");
      if (!nested) hooks.committed();
      return result;
    } catch (error) {
      this.#publicRows = [];
      this.#sentIdRows = [];
      hooks.rolledBack(!nested, mark);
      // Undoing this savepoint undoes a partial write made inside it.
      if ((this.#heldWriteFailure?.depth ?? -1) >= this.#depth) {
        this.#heldWriteFailure = null;
      }
      this.#undo(nested, savepoint);
      throw translate(error, this.#path);
    } finally {
      this.#depth--;
      if (!nested) this.#heldWriteFailure = null;
    }
  }

  /**
   * Holds a public message's row until the transaction commits, or the
   * next statement runs; outside a transaction, writes it now.
   */
  holdPublic(
    id: number,
    seq: number,
    ts: number,
    fromKey: string,
    fromName: string,
    body: Uint8Array,
  ): void {
    const rows = this.#publicRows;
    rows.push(id, seq, ts, fromKey, fromName, body);
    // Outside a transaction nothing waits for a commit; inside, a bound on
    // what is held.
    if (this.#depth === 0 || rows.length >= ROWS_HELD * PUBLIC_COLUMNS) {
      this.writeHeld();
    }
  }

  /** Holds a sent_ids row as `holdPublic` holds a message's. */
  holdSentId(
    messageId: number,
    seq: number,
    fromKey: string,
    clientId: string,
  ): void {
    // Appended in id order: the table has no index on the random client
    // ids to keep up (recent_client_ids.ts says why).
    const rows = this.#sentIdRows;
    rows.push(messageId, seq, fromKey, clientId);
    if (this.#depth === 0 || rows.length >= ROWS_HELD * SENT_ID_COLUMNS) {
      this.writeHeld();
    }
  }

  /**
   * Writes the held public messages, in order, and the client ids held
   * with them, in as few statements as it can: one multi-row INSERT costs
   * about half as much per row as one INSERT per message (node:sqlite on a
   * WAL database), and a busy room
   * stores tens of thousands a second.
   */
  writeHeld(): void {
    const publicRows = this.#publicRows;
    const sentIdRows = this.#sentIdRows;
    if (publicRows.length === 0 && sentIdRows.length === 0) return;
    // Taken first: the statements below must not find them held again.
    this.#publicRows = [];
    this.#sentIdRows = [];
    try {
      this.#insertRows(publicRows, PUBLIC_COLUMNS, PUBLIC_INSERT_SQL);
      this.#insertRows(sentIdRows, SENT_ID_COLUMNS, SENT_ID_INSERT_SQL);
    } catch (error) {
      if (this.#depth > 0) {
        this.#heldWriteFailure ??= { depth: this.#depth, error };
      }
      throw error;
    }
  }

  /**
   * `rows` (`columns` values each) in as few INSERTs as it can; `sqls`
   * holds the INSERT for each of INSERT_SIZES.
   */
  #insertRows(
    rows: SQLInputValue[],
    columns: number,
    sqls: readonly string[],
  ): void {
    const total = rows.length / columns;
    let written = 0;
    while (written < total) {
      let size = 0;
      while (INSERT_SIZES[size]! > total - written) size++;
      const count = INSERT_SIZES[size]!;
      const params = rows.slice(written * columns, (written + count) * columns);
      try {
        this.prepared(sqls[size]!).run(...params);
      } catch (error) {
        throw translate(error, this.#path);
      }
      written += count;
    }
  }

  /**
   * The statement for `sql`. Held rows are written first: whatever this
   * statement reads or writes comes after them.
   */
  statement(sql: string): StatementSync {
    this.writeHeld();
    return this.prepared(sql);
  }

  /**
   * The statement for `sql`, prepared once per SQL text and reused. Held
   * rows stay held: for statements that do not touch their tables.
   */
  prepared(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** A statement of its own, not cached: for one that is set up apart. */
  prepareUncached(sql: string): StatementSync {
    return this.#db.prepare(sql);
  }

  // get, all and run translate errors themselves rather than through
  // guard(): a closure per statement is an allocation on the hot path.

  get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    try {
      return this.statement(sql).get(...params);
    } catch (error) {
      throw translate(error, this.#path);
    }
  }

  all(sql: string, ...params: SQLInputValue[]): Row[] {
    try {
      return this.statement(sql).all(...params);
    } catch (error) {
      throw translate(error, this.#path);
    }
  }

  /** Returns how many rows changed. */
  run(sql: string, ...params: SQLInputValue[]): number {
    try {
      return Number(this.statement(sql).run(...params).changes);
    } catch (error) {
      throw translate(error, this.#path);
    }
  }

  /** `fn`'s result; SQLite's failures in words (sqlite_errors.ts). */
  guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw translate(error, this.#path);
    }
  }

  /** Forgets the prepared statements, before the connection closes. */
  close(): void {
    if (this.#depth > 0) {
      throw new Error("Cannot close the store inside a transaction");
    }
    this.#statements.clear();
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

// Made once: the SQL of each size, the key of its cached statement.
const PUBLIC_INSERT_SQL = INSERT_SIZES.map(publicInsertSql);
const SENT_ID_INSERT_SQL = INSERT_SIZES.map(sentIdInsertSql);

function sentIdInsertSql(rows: number): string {
  return `INSERT INTO sent_ids (message_id, seq, from_key, client_id)
    VALUES ${Array(rows).fill("(?, ?, ?, ?)").join(", ")}`;
}

function publicInsertSql(rows: number): string {
  return `INSERT INTO messages (id, seq, ts, kind, from_key, from_name, body)
    VALUES ${Array(rows).fill("(?, ?, ?, 'public', ?, ?, ?)").join(", ")}`;
}

function isThenable(value: unknown): boolean {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}
