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
  /**
   * By sender, then client id. Two levels rather than one joined key: the
   * names and the parsed client id are strings whose hash V8 computes once,
   * where a joined key is a new string to hash at every lookup (that and
   * deleting from the front of one big Map cost 6 % of the server's
   * thread in a flood, bench --profile).
   */
  readonly #bySender = new Map<string, Map<string, MessagePosition>>();
  /** The kept ones in the order added, oldest at #head. */
  #order: (Kept | undefined)[] = [];
  #head = 0;
  /** How many were added, less those undone: what mark() returns. */
  #added = 0;
  /** #added at the last settle(): an undo reaches no further back. */
  #settled = 0;

  constructor(capacity: number) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0)) {
      throw new RangeError("Keep at least one client id");
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.#order.length - this.#head;
  }

  get(fromKey: string, clientId: string): MessagePosition | undefined {
    return this.#bySender.get(fromKey)?.get(clientId);
  }

  /**
   * Remembers a message's client id; false (and nothing changes) when this
   * sender's id is already known: the first position stays.
   */
  add(fromKey: string, clientId: string, position: MessagePosition): boolean {
    let mine = this.#bySender.get(fromKey);
    if (mine === undefined) {
      mine = new Map();
      this.#bySender.set(fromKey, mine);
    } else if (mine.has(clientId)) {
      return false;
    }
    mine.set(clientId, { id: position.id, seq: position.seq });
    this.#order.push({ fromKey, clientId, id: position.id });
    this.#added++;
    return true;
  }

  /**
   * The message id below which client ids are forgotten: the oldest one
   * kept once as many are kept as can be; undefined before. Lets the table
   * forget the same by its primary key.
   */
  forgottenBefore(): number | undefined {
    return this.size < this.capacity ? undefined : this.#order[this.#head]?.id;
  }

  /** Where a transaction or savepoint begins, for undoTo(). */
  mark(): number {
    return this.#added;
  }

  /** Forgets the ids added since `mark`: their transaction was undone. */
  undoTo(mark: number): void {
    const floor = Math.max(mark, this.#settled);
    while (this.#added > floor) {
      const kept = this.#order.pop();
      this.#added--;
      if (kept !== undefined) this.#forget(kept);
    }
  }

  /**
   * What was added is committed: forgets the oldest beyond the capacity.
   * Only here, not in add(): an id forgotten inside a transaction that is
   * then undone would be gone although its row is back.
   */
  settle(): void {
    this.#settled = this.#added;
    const order = this.#order;
    while (order.length - this.#head > this.capacity) {
      const oldest = order[this.#head];
      order[this.#head++] = undefined;
      if (oldest !== undefined) this.#forget(oldest);
    }
    // The forgotten slots go once they are half the array.
    if (this.#head > 1024 && this.#head * 2 > order.length) {
      this.#order = order.slice(this.#head);
      this.#head = 0;
    }
  }

  #forget({ fromKey, clientId }: Kept): void {
    const mine = this.#bySender.get(fromKey);
    if (mine === undefined) return;
    mine.delete(clientId);
    if (mine.size === 0) this.#bySender.delete(fromKey);
  }
}

/** One kept client id, in the order of ids. */
interface Kept {
  readonly fromKey: string;
  readonly clientId: string;
  readonly id: number;
}
