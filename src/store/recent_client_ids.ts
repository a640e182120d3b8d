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
 * Which are forgotten: past the capacity, the oldest of the senders holding
 * the most, never of one holding fewer than another keeps. One server-wide
 * first in, first out let one sender flooding at the rate limit push out
 * everyone else's ids in half an hour, and a retry after a longer outage was
 * then stored twice. Now a flood pushes out its own: each sender keeps its
 * newest min(what it sent, level), the level being at least the capacity
 * after a trim over the number of senders holding ids.
 *
 * Transactions: ids added inside one are undone with it. `mark()` before a
 * transaction or savepoint, `undoTo(mark)` when it is rolled back,
 * `settle()` once the outermost one has committed (or when there is none).
 */

import type { MessagePosition } from "./store.ts";

export class RecentClientIds {
  /** How many are kept, at most, once settled. */
  readonly capacity: number;
  /** How many a trim leaves (keptAfterTrim). */
  readonly afterTrim: number;
  /**
   * By sender, then client id. Two levels rather than one joined key: the
   * names and the parsed client id are strings whose hash V8 computes once,
   * where a joined key is a new string to hash at every lookup (that and
   * deleting from the front of one big Map cost 6 % of the server's
   * thread in a flood, bench --profile).
   */
  readonly #bySender = new Map<string, Sender>();
  #size = 0;
  /** The senders of what was added since the last settle(), in order. */
  #unsettled: Sender[] = [];
  /** How many were added, less those undone: what mark() returns. */
  #added = 0;
  /** #added at the last settle(): an undo reaches no further back. */
  #settled = 0;
  /** Message ids forgotten since takeForgotten() was last called. */
  #forgotten: number[] = [];

  constructor(capacity: number) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0)) {
      throw new RangeError("Keep at least one client id");
    }
    this.capacity = capacity;
    this.afterTrim = keptAfterTrim(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** How many senders have ids kept. */
  get senders(): number {
    return this.#bySender.size;
  }

  get(fromKey: string, clientId: string): MessagePosition | undefined {
    return this.#bySender.get(fromKey)?.ids.get(clientId);
  }

  /**
   * Remembers a message's client id; false (and nothing changes) when this
   * sender's id is already known: the first position stays.
   */
  add(fromKey: string, clientId: string, position: MessagePosition): boolean {
    let mine = this.#bySender.get(fromKey);
    if (mine === undefined) {
      mine = { fromKey, ids: new Map(), order: [], head: 0 };
      this.#bySender.set(fromKey, mine);
    } else if (mine.ids.has(clientId)) {
      return false;
    }
    mine.ids.set(clientId, { id: position.id, seq: position.seq });
    mine.order.push({ clientId, id: position.id });
    this.#unsettled.push(mine);
    this.#size++;
    this.#added++;
    return true;
  }

  /**
   * The message ids of the client ids forgotten since the last call, so
   * that the table forgets the same rows; the list is then empty.
   */
  takeForgotten(): number[] {
    const forgotten = this.#forgotten;
    this.#forgotten = [];
    return forgotten;
  }

  /** Whether any were forgotten since takeForgotten() was last called. */
  get hasForgotten(): boolean {
    return this.#forgotten.length > 0;
  }

  /** Forgotten ids whose rows are back (their delete was undone). */
  giveBackForgotten(ids: readonly number[]): void {
    for (const id of ids) this.#forgotten.push(id);
  }

  /** Where a transaction or savepoint begins, for undoTo(). */
  mark(): number {
    return this.#added;
  }

  /** Forgets the ids added since `mark`: their transaction was undone. */
  undoTo(mark: number): void {
    const floor = Math.max(mark, this.#settled);
    while (this.#added > floor) {
      // Ids of one sender are added in order: the newest is this one.
      const mine = this.#unsettled.pop()!;
      const kept = mine.order.pop()!;
      mine.ids.delete(kept.clientId);
      this.#size--;
      this.#added--;
      if (mine.order.length === mine.head) this.#bySender.delete(mine.fromKey);
    }
  }

  /**
   * What was added is committed: past the capacity, forgets the oldest of
   * the senders holding the most. Only here, not in add(): an id forgotten
   * inside a transaction that is then undone would be gone although its
   * row is back.
   */
  settle(): void {
    this.#settled = this.#added;
    this.#unsettled.length = 0;
    if (this.#size > this.capacity) this.#trim(this.afterTrim);
  }

  /**
   * Lowers the senders holding the most, each to the same level, the
   * highest that leaves at most `target` (water-filling): a sender holding
   * no more than the level loses nothing, and the level is at least
   * target / senders. What the level leaves room for above it goes to the
   * lowered senders whose next id is the newest.
   */
  #trim(target: number): void {
    const senders = [...this.#bySender.values()];
    const counts = senders.map(held).sort((a, b) => b - a);
    // With the i + 1 largest lowered to `level`, what is kept is what the
    // others hold and (i + 1) * level.
    let rest = this.#size;
    let level = 0;
    for (let i = 0; i < counts.length; i++) {
      rest -= counts[i]!;
      const fits = Math.floor((target - rest) / (i + 1));
      if (fits >= (counts[i + 1] ?? 0)) {
        level = Math.min(fits, counts[i]!);
        break;
      }
    }
    // First to one above the level, then one less for those whose oldest
    // left is the oldest, until `target` are kept.
    const atLevelAbove: Sender[] = [];
    for (const mine of senders) {
      if (held(mine) <= level) continue;
      this.#forgetOldest(mine, held(mine) - level - 1);
      atLevelAbove.push(mine);
    }
    if (this.#size > target) {
      atLevelAbove.sort((a, b) => a.order[a.head]!.id - b.order[b.head]!.id);
      for (const mine of atLevelAbove) {
        if (this.#size <= target) break;
        this.#forgetOldest(mine, 1);
      }
    }
    for (const mine of atLevelAbove) {
      if (mine.head === mine.order.length) {
        this.#bySender.delete(mine.fromKey);
      } else if (mine.head > 64 && mine.head * 2 > mine.order.length) {
        // The forgotten slots go once they are half the array.
        mine.order = mine.order.slice(mine.head);
        mine.head = 0;
      }
    }
  }

  #forgetOldest(mine: Sender, count: number): void {
    for (; count > 0; count--) {
      const oldest = mine.order[mine.head]!;
      mine.order[mine.head++] = undefined;
      mine.ids.delete(oldest.clientId);
      this.#forgotten.push(oldest.id);
      this.#size--;
    }
  }
}

/**
 * How many of `capacity` ids a trim leaves: 1/64 less, so that the senders
 * are counted and sorted once per that many ids, not at every one.
 */
export function keptAfterTrim(capacity: number): number {
  return capacity - Math.floor(capacity / 64);
}

/** How many of a sender's ids are kept. */
function held(mine: Sender): number {
  return mine.order.length - mine.head;
}

/** One sender's kept client ids. */
interface Sender {
  readonly fromKey: string;
  readonly ids: Map<string, MessagePosition>;
  /** In the order added, oldest at `head`. */
  order: (Kept | undefined)[];
  head: number;
}

/** One kept client id. */
interface Kept {
  readonly clientId: string;
  readonly id: number;
}
