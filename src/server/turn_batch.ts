// This module is browser compatible.

/**
 * The runs read in one turn of the event loop, from every connection, routed
 * in one transaction and delivered together once it is committed.
 *
 * Why: with a few messages in flight per sender (people typing), each
 * sender's frame is a run of a few messages, and each run was its own
 * transaction: with 99 senders, SQLite's BEGIN/COMMIT (`exec`, writing the
 * same pages to the log again for each run) was about a fifth of the
 * server's busy time in the 99 x 4 fan-out cell (issue 21); one transaction
 * per turn makes it about a twentieth. Each recipient still gets the runs
 * routed in one turn in one frame: its channel packs what is queued before
 * its flush, a microtask, runs (as it already was for runs read in one
 * turn: this does not make fewer socket writes).
 *
 * What stays true:
 * - nothing is delivered before the turn's transaction is committed, so an
 *   `ok` still means stored (and the sender's replies still wait for the
 *   disk, Delivery.deliverRun);
 * - each run is routed in a savepoint of its own (WritePath.commit nests):
 *   one that fails is undone and answered with its fallback, the others
 *   commit; if the turn's commit itself fails, every run gets its fallback;
 * - the runs are routed, then delivered, in the order they were added: each
 *   recipient gets its messages in the order of their sequence numbers.
 */

/** One run held to the end of the turn. */
export interface TurnRun<T> {
  /**
   * Whether it is still to be routed: its connection may have been cut off
   * meanwhile (then it is dropped, as the rest of that connection's frame
   * would have been).
   */
  live(): boolean;
  /** Routes it, its writes in a nested unit of work (a savepoint). */
  route(): T;
  /** Its answer when the turn's transaction could not be committed. */
  failed(error: unknown): T;
  /** Sends what it routed, once the turn's transaction is committed. */
  deliver(result: T): void;
}

/** The write path the batch commits through (write_path.ts). */
export interface TurnWrites {
  commit<T>(work: () => T, failed: (error: unknown) => T): T;
}

interface Pending {
  run: TurnRun<unknown>;
  resolve(): void;
  reject(error: unknown): void;
}

/** Marks a run that was dropped unrouted. */
const DROPPED: unique symbol = Symbol("dropped");

export interface TurnBatchOptions {
  /**
   * Routing stops once a turn has routed for this long; the runs left wait
   * for the next turn (delivering what was routed takes about as long
   * again). Timers and sockets must not wait for a whole flood (see
   * backpressure.ts, TurnBudget).
   */
  budgetMs?: number;
  now?: () => number;
}

export class TurnBatch {
  readonly #writes: TurnWrites;
  readonly #schedule: (task: () => void) => void;
  readonly #budgetMs: number;
  readonly #now: () => number;
  #pending: Pending[] = [];
  #scheduled = false;
  /** Runs per turn so far: how many turns had 1, 2, 3-4, 5-8, ... runs. */
  readonly #sizes: number[] = [];

  /**
   * `schedule` runs its task once the turn has ended: after every socket
   * read of this turn of the event loop was handed to its reader
   * (`setImmediate` on the server).
   */
  constructor(
    writes: TurnWrites,
    schedule: (task: () => void) => void,
    options: TurnBatchOptions = {},
  ) {
    this.#writes = writes;
    this.#schedule = schedule;
    this.#budgetMs = options.budgetMs ?? Infinity;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Runs waiting for the end of the turn. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * How many turns routed 1, 2, 3-4, 5-8, ... runs (index k: up to 2^k), for
   * tests and profiling.
   */
  get sizes(): readonly number[] {
    return this.#sizes;
  }

  /**
   * Holds `run` to the end of the turn; resolves once it was delivered (or
   * dropped), rejects if delivering it threw.
   */
  add<T>(run: TurnRun<T>): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#pending.push({ run: run as TurnRun<unknown>, resolve, reject });
    });
    this.#scheduleFlush();
    return done;
  }

  #scheduleFlush(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#schedule(() => this.flush());
  }

  /**
   * Routes the runs held so far (as many as the budget allows, at least
   * one), commits, and delivers them, now.
   */
  flush(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    if (pending.length === 0) return;
    const started = this.#now();
    // Which runs were routed (the others' connections were gone), and why
    // the turn's transaction failed, if it did.
    const live: boolean[] = [];
    let failure: unknown = null;
    const results = this.#writes.commit(() => {
      const out: unknown[] = [];
      for (const { run } of pending) {
        if (out.length > 0 && this.#now() - started >= this.#budgetMs) break;
        const routed = run.live();
        live.push(routed);
        out.push(routed ? run.route() : DROPPED);
      }
      return out;
    }, (error) => {
      failure = error;
      return null;
    });
    // A transaction that failed before any run was routed fails them all.
    if (live.length === 0) live.push(...pending.map(({ run }) => run.live()));
    const taken = pending.splice(0, live.length);
    if (pending.length > 0) this.#scheduleFlush();
    this.#count(taken.length);
    for (const [i, { run, resolve, reject }] of taken.entries()) {
      try {
        if (live[i]) {
          run.deliver(results === null ? run.failed(failure) : results[i]);
        }
        resolve();
      } catch (error) {
        reject(error);
      }
    }
  }

  #count(runs: number): void {
    const k = Math.ceil(Math.log2(runs));
    while (this.#sizes.length <= k) this.#sizes.push(0);
    this.#sizes[k]!++;
  }
}
