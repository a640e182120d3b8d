// This module is browser compatible.

/**
 * When a file whose transfer broke is offered again (outgoing_files.ts):
 * after pauses that grow to a last one, repeated, for as long as the sender
 * has been connected for less than a budget in all. Time without a
 * connection of ours is not counted (a server restarting slowly, or our own
 * network gone, must not use the offer up), and a new connection of ours
 * starts the pauses over: the receiver is likely back soon too.
 *
 * @module
 */

/** The pauses before each offer made again; the last one repeats. */
export const RESEND_DELAYS_MS: readonly number[] = [
  1000,
  2000,
  4000,
  8000,
  15_000,
];

/** Time connected spent waiting to offer again, at most, before giving up. */
export const RESEND_BUDGET_MS = 5 * 60_000;

export class ResendSchedule {
  readonly #delays: readonly number[];
  readonly #budgetMs: number;
  #step = 0;
  #waitedMs = 0;

  constructor(
    delays: readonly number[] = RESEND_DELAYS_MS,
    budgetMs = RESEND_BUDGET_MS,
  ) {
    if (delays.length === 0) throw new RangeError("No pauses to offer after");
    this.#delays = delays;
    this.#budgetMs = budgetMs;
  }

  /** The pause before the next offer, or null once the budget is spent. */
  next(): number | null {
    if (this.#waitedMs >= this.#budgetMs) return null;
    const delay = this.#delays[Math.min(this.#step, this.#delays.length - 1)]!;
    this.#step++;
    return Math.min(delay, this.#budgetMs - this.#waitedMs);
  }

  /** `ms` spent waiting while connected: counted against the budget. */
  waited(ms: number): void {
    this.#waitedMs += Math.max(0, ms);
  }

  /** A new connection of ours: the pauses start over; the budget does not. */
  reconnected(): void {
    this.#step = 0;
  }

  /** The budget, for saying why an offer was given up. */
  get budgetMs(): number {
    return this.#budgetMs;
  }
}
