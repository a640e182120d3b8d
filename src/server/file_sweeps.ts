/**
 * The file transfers' deadlines, looked for by timers: offers whose
 * recipients did not answer in time, and recipients that stopped taking a
 * file they accepted (transfers.ts decides; this only runs it on time).
 */

import type { Outbound } from "./outbound.ts";
import type { ServerState } from "./state.ts";
import { expireAnswers, expireStalled } from "./transfers.ts";
import type { WritePath } from "./write_path.ts";

export class FileSweeps {
  readonly #state: ServerState;
  readonly #writes: WritePath;
  readonly #deliver: (outbound: readonly Outbound[]) => void;
  readonly #stopping: () => boolean;
  // File offers wait for their recipients' answers until a deadline; one
  // timer for the earliest of them.
  #answerSweep: ReturnType<typeof setTimeout> | undefined;
  readonly #stallSweep: ReturnType<typeof setInterval>;

  constructor(
    state: ServerState,
    writes: WritePath,
    deliver: (outbound: readonly Outbound[]) => void,
    stopping: () => boolean,
  ) {
    this.#state = state;
    this.#writes = writes;
    this.#deliver = deliver;
    this.#stopping = stopping;
    // Recipients that stopped taking a file they accepted, looked for a few
    // times per stall period while transfers run.
    this.#stallSweep = setInterval(() => {
      if (state.transfers.size === 0 || stopping()) return;
      const now = Date.now();
      deliver(writes.commit(() => expireStalled(state, now), () => []));
    }, Math.max(50, Math.min(5000, state.limits.fileStallMs / 4)));
  }

  /** Sets the timer for the earliest answer deadline, unless one is set. */
  scheduleAnswers(): void {
    if (this.#answerSweep !== undefined || this.#stopping()) return;
    const next = this.#state.transfers.nextAnswerDeadline();
    if (next === null) return;
    this.#answerSweep = setTimeout(() => {
      this.#answerSweep = undefined;
      const now = Date.now();
      this.#deliver(
        this.#writes.commit(() => expireAnswers(this.#state, now), () => []),
      );
      this.scheduleAnswers();
    }, Math.max(0, next - Date.now()));
  }

  stop(): void {
    clearTimeout(this.#answerSweep);
    this.#answerSweep = undefined;
    clearInterval(this.#stallSweep);
  }
}
