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

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { migrate, MIGRATIONS, readSchemaVersion } from "./migrations.ts";
import type { CheckpointCounts } from "./checkpointer.ts";
import {
  type BindResult,
  type BudgetSpend,
  type Conversation,
  type GroupRecord,
  type HistoryQuery,
  type KeyCut,
  type MemberRecord,
  type MembershipPeriod,
  type MessagePosition,
  type NewMessage,
  type NewPublicMessage,
  type NewTransfer,
  type ReleasedName,
  type Store,
  type StoredMessage,
  type StoredPrekeys,
  StoreError,
  type TransferRecord,
  type TransferResult,
  type UserRecord,
} from "./store.ts";
import type { Timestamp } from "../protocol/messages.ts";
import { prepareLocation } from "./database_location.ts";
import { translate } from "./sqlite_errors.ts";
import { type Row, text } from "./rows.ts";
import { Transactions } from "./transactions.ts";
import { configure, type LogSetup, LogUpkeep } from "./log_upkeep.ts";
import {
  DEFAULT_CAP_CHECK_BUDGET_MS,
  DEFAULT_CAP_CHECK_EVERY,
  StoreCap,
} from "./store_cap.ts";
import { MessagePositions } from "./message_positions.ts";
import { SENT_IDS_KEPT, SentIds } from "./sent_ids.ts";
import { UserQueries } from "./user_queries.ts";
import { GroupQueries } from "./group_queries.ts";
import { TransferQueries } from "./transfer_queries.ts";
import { BudgetQueries } from "./budget_queries.ts";
import { MessageQueries } from "./message_queries.ts";
import { DeliveryQueries } from "./delivery_queries.ts";

// The store's limits, where callers have always found them.
export { SENT_IDS_KEPT } from "./sent_ids.ts";
export { MAX_OUTCOME_CHARS, TRANSFERS_KEPT } from "./transfer_queries.ts";
export { MEMBERSHIP_PERIODS_KEPT } from "./group_queries.ts";

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

/**
 * The `Store` over one connection: each call goes to the part that owns
 * its tables (the *_queries.ts files), all of them writing through one
 * transaction engine (transactions.ts), with the size cap (store_cap.ts)
 * and the log's upkeep (log_upkeep.ts) told of each commit.
 */
export class SqliteStore implements Store {
  /** The path given to `openStore`, or ":memory:". */
  readonly path: string;
  readonly id: string;
  readonly #db: DatabaseSync;
  readonly #tx: Transactions;
  readonly #log: LogUpkeep;
  readonly #cap: StoreCap;
  readonly #users: UserQueries;
  readonly #groups: GroupQueries;
  readonly #transfers: TransferQueries;
  readonly #budgets: BudgetQueries;
  readonly #messages: MessageQueries;
  readonly #deliveries: DeliveryQueries;
  readonly #dataVersion: StatementSync;

  private constructor(
    db: DatabaseSync,
    path: string,
    setup: LogSetup,
    options: StoreOptions,
  ) {
    this.#db = db;
    this.#dataVersion = db.prepare("PRAGMA data_version");
    this.path = path;
    this.id = readStoreId(db);
    const tx = new Transactions(db, path);
    const positions = new MessagePositions(tx);
    const cap = new StoreCap(tx, {
      maxBytes: options.maxBytes ?? 0,
      checkEvery: options.capCheckEvery ?? DEFAULT_CAP_CHECK_EVERY,
      checkBudgetMs: options.capCheckBudgetMs ?? DEFAULT_CAP_CHECK_BUDGET_MS,
      notice: options.notice ?? (() => {}),
      lastMessageId: () => positions.lastMessageId(),
    });
    const sentIds = new SentIds(tx, options.clientIdsKept ?? SENT_IDS_KEPT);
    const users = new UserQueries(tx);
    this.#log = new LogUpkeep(db, tx, {
      path,
      setup,
      busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      checkpointEveryRows: options.checkpointEveryRows,
    });
    const log = this.#log;
    // Made once: each transaction calls these, and allocates nothing more.
    tx.hooks = {
      begin: () => sentIds.mark(),
      beforeCommit: () => users.writeTouches(),
      committed: () => {
        sentIds.settle();
        log.committed();
        cap.committed();
      },
      rolledBack: (outermost, mark) => {
        if (outermost) users.forgetTouches();
        positions.forget();
        cap.rolledBack();
        sentIds.undoTo(mark);
      },
    };
    this.#tx = tx;
    this.#cap = cap;
    this.#users = users;
    this.#groups = new GroupQueries(tx);
    this.#transfers = new TransferQueries(tx);
    this.#budgets = new BudgetQueries(tx);
    this.#messages = new MessageQueries(tx, positions, sentIds, cap);
    this.#deliveries = new DeliveryQueries(tx, cap);
    sentIds.load();
    cap.readOwed();
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
      const setup = configure(db, memory, options.synchronous ?? "NORMAL");
      migrate(db, MIGRATIONS, label);
      const store = new SqliteStore(db, path, setup, options);
      // A store already past its cap makes room, or says so, at once.
      store.#cap.check();
      return store;
    } catch (error) {
      db.close();
      throw translate(error, path);
    }
  }

  durable(): Promise<void> | null {
    return this.#log.durable();
  }

  /**
   * Has the worker checkpoint the log now; resolves once it has (false: no
   * worker, for an in-memory store or one whose worker failed). The log
   * then starts again at the next write if nothing was written meanwhile.
   */
  checkpoint(): Promise<boolean> {
    return this.#log.checkpoint();
  }

  /**
   * Starts the checkpoint worker (checkpointer.ts) now, as a server does
   * before it takes connections; otherwise it starts at the first
   * checkpoint, which suits tests and tools that open a store briefly.
   */
  startCheckpointer(): void {
    this.#log.startCheckpointer();
  }

  /** Whether the checkpoint worker is running (for tests and tools). */
  get checkpointerRunning(): boolean {
    return this.#log.checkpointerRunning;
  }

  /** Checkpoints run by the worker and by this thread (for tests and tools). */
  get checkpoints(): CheckpointCounts {
    return this.#log.checkpoints;
  }

  transaction<T>(fn: () => T): T {
    return this.#tx.transaction(fn);
  }

  full(): boolean {
    return this.#cap.full;
  }

  /**
   * Bytes in the database's pages in use (free pages left out: SQLite
   * reuses them). Two PRAGMAs: cheap, but not for every message.
   */
  usedBytes(): number {
    return this.#cap.usedBytes();
  }

  takeDropped(userKey: string): number {
    return this.#cap.takeDropped(userKey);
  }

  changedElsewhere(): number {
    const row = this.#dataVersion.get() as { data_version: number };
    return row.data_version;
  }

  close(): void {
    if (!this.#db.isOpen) return;
    if (this.#tx.active) {
      throw new Error("Cannot close the store inside a transaction");
    }
    try {
      // SQLite's advice for long-lived connections: keeps the planner's
      // statistics current as tables grow. Cheap, and optional.
      this.#db.exec("PRAGMA optimize");
    } catch {
      // A read-only or busy database can still be closed.
    }
    this.#tx.close();
    this.#log.closeCheckpointer();
    this.#db.close();
    this.#log.close();
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
      rows = this.#tx.all("PRAGMA integrity_check");
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

  // Users (user_queries.ts).

  getUser(nameKey: string): UserRecord | undefined {
    return this.#users.getUser(nameKey);
  }

  listUsers(): UserRecord[] {
    return this.#users.listUsers();
  }

  ensureUser(name: string, nameKey: string, now: Timestamp): UserRecord {
    return this.#users.ensureUser(name, nameKey, now);
  }

  noteRegisteredFrom(nameKey: string, addressGroup: string): void {
    this.#cap.senders.note(nameKey, addressGroup);
  }

  bindFingerprint(nameKey: string, fingerprint: string): BindResult {
    return this.#users.bindFingerprint(nameKey, fingerprint);
  }

  getPrekeys(nameKey: string): StoredPrekeys | undefined {
    return this.#users.getPrekeys(nameKey);
  }

  prekeysFingerprint(nameKey: string): string | undefined {
    return this.#users.prekeysFingerprint(nameKey);
  }

  putPrekeys(nameKey: string, prekeys: StoredPrekeys | null): void {
    this.#users.putPrekeys(nameKey, prekeys);
  }

  releaseName(nameKey: string, at: Timestamp): ReleasedName | null {
    return this.#tx.transaction(() => {
      if (!this.#users.unbind(nameKey, this.lastMessageId())) return null;
      return this.#forgetOldKey(nameKey, at);
    });
  }

  historyStartsAfter(nameKey: string): number {
    return this.#users.historyStartsAfter(nameKey);
  }

  endOldKey(nameKey: string, at: Timestamp): ReleasedName {
    return this.#tx.transaction(() => {
      this.#users.startHistoryAfter(nameKey, this.lastMessageId());
      return this.#forgetOldKey(nameKey, at);
    });
  }

  cutOldKeys(
    nameKey: string,
    cut: KeyCut,
    at: Timestamp,
    groups: boolean,
  ): ReleasedName | null {
    return this.#tx.transaction(() => {
      const user = this.#users.getUser(nameKey);
      if (user === undefined) return null;
      // Made already (this node followed the names bucket before the
      // binding's sign-in reached here): only the groups may be left.
      const made = user.fingerprint === cut.fingerprint &&
        this.#users.historyStartsAfter(nameKey) >= cut.after;
      let waiting = 0;
      if (!made) {
        this.#users.startHistoryAfter(nameKey, cut.after);
        this.#users.dropOtherKeys(nameKey, cut.fingerprint);
        waiting = this.#deliveries.forgetUpTo(nameKey, cut.after);
        this.#cap.takeDropped(nameKey);
      }
      const left = groups
        ? this.#groups.leaveJoinedBy(nameKey, cut.since, at)
        : [];
      return made && left.length === 0 ? null : { waiting, groups: left };
    });
  }

  /** What the store held for a name's old key only (releaseName). */
  #forgetOldKey(nameKey: string, at: Timestamp): ReleasedName {
    const waiting = this.#deliveries.forget(nameKey);
    // Given up while the old key held the name: no news for the next one.
    this.#cap.takeDropped(nameKey);
    const groups = this.#groups.leaveAll(nameKey, at);
    return { waiting, groups };
  }

  touchSeen(nameKey: string, at: Timestamp): boolean {
    return this.#users.touchSeen(nameKey, at);
  }

  touchMessage(nameKey: string, at: Timestamp): boolean {
    return this.#users.touchMessage(nameKey, at);
  }

  // Groups and membership (group_queries.ts).

  getGroup(key: string): GroupRecord | undefined {
    return this.#groups.getGroup(key);
  }

  listGroups(): GroupRecord[] {
    return this.#groups.listGroups();
  }

  createGroup(
    name: string,
    key: string,
    createdBy: string,
    at: Timestamp,
  ): GroupRecord {
    return this.#groups.createGroup(name, key, createdBy, at);
  }

  addMember(
    groupKey: string,
    userKey: string,
    userName: string,
    at: Timestamp,
  ): boolean {
    return this.#groups.addMember(groupKey, userKey, userName, at);
  }

  removeMember(groupKey: string, userKey: string, at: Timestamp): boolean {
    return this.#groups.removeMember(groupKey, userKey, at);
  }

  members(groupKey: string): MemberRecord[] {
    return this.#groups.members(groupKey);
  }

  groupsOf(userKey: string): GroupRecord[] {
    return this.#groups.groupsOf(userKey);
  }

  membershipPeriods(groupKey: string, userKey: string): MembershipPeriod[] {
    return this.#groups.membershipPeriods(groupKey, userKey);
  }

  // Messages (message_queries.ts) and their deliveries (delivery_queries.ts).

  appendPublic(message: NewPublicMessage): MessagePosition {
    return this.#messages.appendPublic(message);
  }

  appendMessage(message: NewMessage): MessagePosition {
    return this.#messages.appendMessage(message);
  }

  sentWithClientId(
    fromKey: string,
    clientId: string,
  ): MessagePosition | undefined {
    return this.#messages.sentWithClientId(fromKey, clientId);
  }

  logPosition(): number {
    return this.#messages.logPosition();
  }

  setLogPosition(seq: number): void {
    this.#messages.setLogPosition(seq);
  }

  lastMessageId(): number {
    return this.#messages.lastMessageId();
  }

  history(
    query: HistoryQuery,
    limit: number,
    maxBodyBytes?: number,
  ): StoredMessage[] {
    return this.#messages.history(query, limit, maxBodyBytes);
  }

  historyFloor(query: HistoryQuery): number | null {
    return this.#messages.historyFloor(query);
  }

  forgetGroupSinceRelease(userKey: string, groupKey: string): number {
    return this.#deliveries.forgetGroupSinceRelease(userKey, groupKey);
  }

  acknowledge(
    userKey: string,
    conversation: Conversation,
    seq: number,
    maxId?: number,
  ): number {
    return this.#deliveries.acknowledge(userKey, conversation, seq, maxId);
  }

  markDelivered(messageId: number, userKey: string): boolean {
    return this.#deliveries.markDelivered(messageId, userKey);
  }

  requeueSince(userKey: string, since: number): number {
    return this.#deliveries.requeueSince(userKey, since);
  }

  pendingFor(
    userKey: string,
    limit: number,
    afterId?: number,
  ): StoredMessage[] {
    return this.#deliveries.pendingFor(userKey, limit, afterId);
  }

  // File transfers (transfer_queries.ts).

  recordTransfer(transfer: NewTransfer): number {
    return this.#transfers.recordTransfer(transfer);
  }

  finishTransfer(id: number, result: TransferResult): boolean {
    return this.#transfers.finishTransfer(id, result);
  }

  interruptTransfers(at: Timestamp): number {
    return this.#transfers.interruptTransfers(at);
  }

  recentTransfers(limit: number): TransferRecord[] {
    return this.#transfers.recentTransfers(limit);
  }

  // Hourly budgets (budget_queries.ts).

  recordBudgetSpend(spend: BudgetSpend): void {
    this.#budgets.recordBudgetSpend(spend);
  }

  budgetSpendsSince(since: number): BudgetSpend[] {
    return this.#budgets.budgetSpendsSince(since);
  }

  dropBudgetSpends(before: number): void {
    this.#budgets.dropBudgetSpends(before);
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
