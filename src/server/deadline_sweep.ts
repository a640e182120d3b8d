// This module is browser compatible.

/**
 * Keys that must be done with something by a deadline (a connection that
 * must register in time), watched by one timer for all of them rather than
 * one each: a timer costs about 1 KiB, which is 10 MiB at 10,000 idle
 * connections. Deadlines are added in order (now + a constant), so the
 * map's insertion order is deadline order and the first entry is the next.
 */

/** The clock and timer the sweep uses; tests pass their own. */
export interface Timers {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

export class DeadlineSweep<K> {
  readonly #deadlines = new Map<K, number>();
  readonly #due: (key: K) => void;
  readonly #timers: Timers;
  #timer: unknown = undefined;

  /** `due` is called once for each key whose deadline passed, in order. */
  constructor(due: (key: K) => void, timers: Timers = REAL_TIMERS) {
    this.#due = due;
    this.#timers = timers;
  }

  get size(): number {
    return this.#deadlines.size;
  }

  /**
   * Watches `key` until `ms` from now. Keys must be added with the same
   * `ms` (or growing ones), or a later deadline would hold up earlier ones.
   */
  add(key: K, ms: number): void {
    this.#deadlines.delete(key);
    this.#deadlines.set(key, this.#timers.now() + ms);
    this.#schedule();
  }

  /** Stops watching `key`; the timer stops with the last key. */
  delete(key: K): void {
    this.#deadlines.delete(key);
    if (this.#deadlines.size === 0) this.stop();
  }

  /** Stops the timer; keys still watched wait for the next add. */
  stop(): void {
    if (this.#timer === undefined) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const first = this.#deadlines.values().next();
    if (first.done) return;
    this.#timer = this.#timers.setTimeout(
      () => this.#sweep(),
      Math.max(0, first.value - this.#timers.now()),
    );
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = this.#timers.now();
    for (const [key, deadline] of this.#deadlines) {
      if (deadline > now) break;
      this.#deadlines.delete(key);
      this.#due(key);
    }
    this.#schedule();
  }
}
