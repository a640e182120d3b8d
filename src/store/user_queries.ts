/**
 * The store's accounts: users, the fingerprint each name is bound to, when
 * each was last seen and last sent a message, and their published prekeys.
 */

import type { BindResult, StoredPrekeys, UserRecord } from "./store.ts";
import type { Timestamp } from "../protocol/messages.ts";
import { integer, text, toUser } from "./rows.ts";
import type { Transactions } from "./transactions.ts";

const USER_COLUMNS =
  "name_key, name, fingerprint, created_at, last_seen, last_message_at";
const USER_SELECT = `SELECT ${USER_COLUMNS} FROM users`;

export class UserQueries {
  readonly #tx: Transactions;
  /** touchMessage calls inside the current transaction, written at commit. */
  readonly #touches = new Map<string, Timestamp>();

  constructor(tx: Transactions) {
    this.#tx = tx;
  }

  getUser(nameKey: string): UserRecord | undefined {
    const row = this.#tx.get(`${USER_SELECT} WHERE name_key = ?`, nameKey);
    return row === undefined ? undefined : toUser(row);
  }

  listUsers(): UserRecord[] {
    return this.#tx.all(`${USER_SELECT} ORDER BY id`).map(toUser);
  }

  ensureUser(name: string, nameKey: string, now: Timestamp): UserRecord {
    const row = this.#tx.get(
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
    return this.#tx.transaction(() => {
      const bound = this.#tx.run(
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

  /**
   * Unbinds the name and its prekeys, noting `lastId` as where its history
   * starts for the next key; false if it was not bound.
   */
  unbind(nameKey: string, lastId: number): boolean {
    // The prekeys go with the key they were published under: a newcomer
    // taking the name must not have the old key's handed out for it.
    this.#tx.run("DELETE FROM prekeys WHERE name_key = ?", nameKey);
    return this.#tx.run(
      `UPDATE users SET fingerprint = NULL,
         released_below = max(released_below, ?)
       WHERE name_key = ? AND fingerprint IS NOT NULL`,
      lastId,
      nameKey,
    ) > 0;
  }

  /**
   * Notes `lastId` as where the name's history starts for its current key
   * (never moved back); false if the user is unknown.
   */
  startHistoryAfter(nameKey: string, lastId: number): boolean {
    return this.#tx.run(
      `UPDATE users SET released_below = max(released_below, ?)
       WHERE name_key = ?`,
      lastId,
      nameKey,
    ) > 0;
  }

  /** Where the name's history starts for its current key: 0 if never cut. */
  historyStartsAfter(nameKey: string): number {
    const row = this.#tx.get(
      "SELECT released_below FROM users WHERE name_key = ?",
      nameKey,
    );
    return row === undefined ? 0 : integer(row, "released_below");
  }

  /**
   * Unbinds the name if it is bound to another key than `fingerprint`, and
   * deletes prekeys published for it under another key.
   */
  dropOtherKeys(nameKey: string, fingerprint: string): void {
    this.#tx.run(
      "DELETE FROM prekeys WHERE name_key = ? AND fingerprint <> ?",
      nameKey,
      fingerprint,
    );
    this.#tx.run(
      `UPDATE users SET fingerprint = NULL
       WHERE name_key = ? AND fingerprint <> ?`,
      nameKey,
      fingerprint,
    );
  }

  getPrekeys(nameKey: string): StoredPrekeys | undefined {
    const row = this.#tx.get(
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

  prekeysFingerprint(nameKey: string): string | undefined {
    const row = this.#tx.get(
      "SELECT fingerprint FROM prekeys WHERE name_key = ?",
      nameKey,
    );
    return row === undefined ? undefined : text(row, "fingerprint");
  }

  putPrekeys(nameKey: string, prekeys: StoredPrekeys | null): void {
    if (prekeys === null) {
      this.#tx.run("DELETE FROM prekeys WHERE name_key = ?", nameKey);
      return;
    }
    this.#tx.run(
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

  touchSeen(nameKey: string, at: Timestamp): boolean {
    return this.#tx.run(
      "UPDATE users SET last_seen = ? WHERE name_key = ?",
      at,
      nameKey,
    ) > 0;
  }

  touchMessage(nameKey: string, at: Timestamp): boolean {
    if (this.#tx.active) {
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

  /** Before the outermost commit: the touches held since it began. */
  writeTouches(): void {
    for (const [key, at] of this.#touches) this.#writeTouch(key, at);
    this.#touches.clear();
  }

  /** The outermost transaction was undone, and its touches with it. */
  forgetTouches(): void {
    this.#touches.clear();
  }

  #known(nameKey: string): boolean {
    return this.#tx.get("SELECT 1 FROM users WHERE name_key = ?", nameKey) !==
      undefined;
  }

  #writeTouch(nameKey: string, at: Timestamp): boolean {
    return this.#tx.run(
      "UPDATE users SET last_message_at = ? WHERE name_key = ?",
      at,
      nameKey,
    ) > 0;
  }
}
