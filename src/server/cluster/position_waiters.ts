// This module is browser compatible.

/**
 * Those waiting for this node to apply the cluster's log up to a position
 * (log.ts `applied`): file events and answers from other nodes wait here
 * (files_in_order.ts, answers_in_order.ts), up to 4096 of each, at
 * positions another node named, so maybe never reached.
 *
 * Kept in a heap by position: a record applied costs O(1) when nobody waits
 * for it, and O(log n) for each waiter it lets go; a waiter that gives up is
 * only marked, and dropped when it comes to the top or when those marked
 * outnumber the rest. Before, each record applied filtered the whole list
 * twice and each wait given up once: a hostile node naming positions far
 * ahead made every record cost 2 x 4096 steps, and 4096 waits given up
 * 4096 x 4096.
 */

interface Waiter {
  readonly seq: number;
  /** Called once, when let go; null once done or given up. */
  resolve: (() => void) | null;
}

export class PositionWaiters {
  /** A binary min-heap by `seq`. */
  #heap: Waiter[] = [];
  /** Waiters in the heap that gave up. */
  #gone = 0;

  /** Those still waiting. */
  get size(): number {
    return this.#heap.length - this.#gone;
  }

  /**
   * Waits for position `seq`: `resolve` is called by the first `advance`
   * that reaches it. The function returned gives up (once; later calls and
   * calls after `resolve` do nothing).
   */
  wait(seq: number, resolve: () => void): () => void {
    const waiter: Waiter = { seq, resolve };
    this.#push(waiter);
    return () => {
      if (waiter.resolve === null) return;
      waiter.resolve = null;
      this.#gone++;
      // Marked ones must not pile up under a position never reached.
      if (this.#gone > 64 && this.#gone * 2 > this.#heap.length) {
        this.#compact();
      }
    };
  }

  /** Lets go every waiter at `seq` or before, in position order. */
  advance(seq: number): void {
    while (this.#heap.length > 0 && this.#heap[0]!.seq <= seq) {
      const waiter = this.#pop();
      const resolve = waiter.resolve;
      if (resolve === null) {
        this.#gone--;
        continue;
      }
      waiter.resolve = null;
      resolve();
    }
  }

  #compact(): void {
    const live = this.#heap.filter((waiter) => waiter.resolve !== null);
    this.#heap = [];
    this.#gone = 0;
    for (const waiter of live) this.#push(waiter);
  }

  #push(waiter: Waiter): void {
    const heap = this.#heap;
    heap.push(waiter);
    let at = heap.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (heap[parent]!.seq <= waiter.seq) break;
      heap[at] = heap[parent]!;
      at = parent;
    }
    heap[at] = waiter;
  }

  #pop(): Waiter {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.seq < heap[left]!.seq
        ? right
        : left;
      if (heap[child]!.seq >= last.seq) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = last;
    return top;
  }
}
