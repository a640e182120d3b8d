// This module is browser compatible.

/**
 * How many of a frame's messages one run routes (serve.ts: a run is routed
 * in one unit of work, committed, and delivered before the next one starts,
 * and what is queued for recipients is looked at between runs; a frame's
 * last run is committed with the other runs of its turn, turn_batch.ts).
 *
 * A commit costs several times what routing a message does, so a run should
 * be long; but every sender may pass the bound on what is queued for
 * recipients by one run (src/server/backpressure.ts), so a run must not
 * queue much. What a run queues is its messages' bytes times the recipients
 * of each: a run is cut once that estimate passes a share of the bound
 * ({@link RUN_SHARE}), or at {@link RUN_MAX_STEPS} whatever it queues. Under
 * the default bound (64 MiB) a 100-byte public message in a room of 100
 * queues about 16 KiB, so such runs are about 16 messages long; 16-byte ones
 * about 32; private messages and acknowledgements, 256 (before, every run
 * was 8 long).
 */

/**
 * A run may queue this part of the bound: with 99 senders flooding a room of
 * 100, the queues pass the bound by 40 % at most.
 */
export const RUN_SHARE = 1 / 256;
/** The server's default bound (config.ts), for a server without one. */
const DEFAULT_BOUND = 64 * 1024 * 1024;
/** Messages in one run at most. */
export const RUN_MAX_STEPS = 256;
/** What a message costs its recipients' queues besides its body. */
const HEADER_BYTES = 64;

export class RunBudget {
  readonly #maxBytes: number;
  #steps = 0;
  #bytes = 0;

  /**
   * `maxQueuedBytes`: the bound on what is queued for all recipients (0: no
   * bound, and runs as under the default one).
   */
  constructor(maxQueuedBytes: number) {
    this.#maxBytes = (maxQueuedBytes > 0 ? maxQueuedBytes : DEFAULT_BOUND) *
      RUN_SHARE;
  }

  /** Whether the run is long enough to be routed now. */
  get full(): boolean {
    return this.#steps >= RUN_MAX_STEPS || this.#bytes >= this.#maxBytes;
  }

  /** A message of `bodyBytes` for `recipients` connections joins the run. */
  add(bodyBytes: number, recipients: number): void {
    this.#steps++;
    this.#bytes += (HEADER_BYTES + bodyBytes) * Math.max(1, recipients);
  }

  /** The run was routed: the next one starts empty. */
  reset(): void {
    this.#steps = 0;
    this.#bytes = 0;
  }
}
