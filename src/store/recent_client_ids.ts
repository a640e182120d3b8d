/**
 * The client ids of the newest messages sent with one, in memory, so that
 * recognising a retry (docs/PROTOCOL.md, "Delivery") reads no index.
 *
 * Why not SQLite's index: a client id is random, so each new one went into
 * a random place of a unique index on (sender, client id); that insert was
 * most of the cost of storing a line from `chat connect` (bench/store_cost.ts
 * 20000 40: 34-47 µs a message with random ids, 12-17 without). The table
 * `sent_ids` still keeps them, appended in id order, so that a retry after a
 * restart is recognised: the store fills this from it when it opens.
 *
 * Transactions: ids added inside one are undone with it. `mark()` before a
 * transaction or savepoint, `undoTo(mark)` when it is rolled back,
 * `settle()` once the outermost one has committed (or when there is none).
 */

import type { MessagePosition } from "./store.ts";

export class RecentClientIds {
  /** How many are kept: the oldest beyond are forgotten at settle(). */
  readonly capacity: number;
  /** By key(), oldest first: a Map keeps the order of insertion. */
  readonly #positions = new Map<string, MessagePosition>();
  /** Keys added since the last settle(), in order, for undoTo(). */
  #added: string[] = [];

  constructor(capacity: number) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0)) {
      throw new RangeError("Keep at least one client id");
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.#positions.size;
  }

  get(fromKey: string, clientId: string): MessagePosition | undefined {
    return this.#positions.get(key(fromKey, clientId));
  }

  /**
   * Remembers a message's client id; false (and nothing changes) when this
   * sender's id is already known: the first position stays.
   */
  add(fromKey: string, clientId: string, position: MessagePosition): boolean {
    const k = key(fromKey, clientId);
    if (this.#positions.has(k)) return false;
    this.#positions.set(k, { id: position.id, seq: position.seq });
    this.#added.push(k);
    return true;
  }

  /**
   * The message id below which client ids are forgotten: the oldest one
   * kept once as many are kept as can be; undefined before. Lets the table
   * forget the same by its primary key.
   */
  forgottenBefore(): number | undefined {
    if (this.#positions.size < this.capacity) return undefined;
    for (const position of this.#positions.values()) return position.id;
    return undefined;
  }

  /** Where a transaction or savepoint begins, for undoTo(). */
  mark(): number {
    return this.#added.length;
  }

  /** Forgets the ids added since `mark`: their transaction was undone. */
  undoTo(mark: number): void {
    for (const k of this.#added.splice(mark)) this.#positions.delete(k);
  }

  /**
   * What was added is committed: forgets the oldest beyond the capacity.
   * Only here, not in add(): an id forgotten inside a transaction that is
   * then undone would be gone although its row is back.
   */
  settle(): void {
    this.#added = [];
    let over = this.#positions.size - this.capacity;
    if (over <= 0) return;
    for (const k of this.#positions.keys()) {
      this.#positions.delete(k);
      if (--over === 0) break;
    }
  }
}

// The length first makes the key unambiguous whatever either part holds.
function key(fromKey: string, clientId: string): string {
  return `${clientId.length}:${clientId}${fromKey}`;
}
