// This module is browser compatible.

/**
 * Work done one piece after the other, in the order it came: a session's
 * chat lines are shown in the order they arrived, an end-to-end one opened
 * first and those after it waiting for it.
 *
 * @module
 */

export class InTurn {
  #settled: Promise<void> = Promise.resolve();
  readonly #onError: (error: unknown) => void;

  /** `onError`: told of a piece that failed; those after it go on. */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** Runs `run` once everything before it has settled. */
  run(run: () => void | Promise<void>): void {
    this.#settled = this.#settled.then(run).catch((error) =>
      this.#onError(error)
    );
  }

  /** Settles once everything run so far has. */
  get settled(): Promise<void> {
    return this.#settled;
  }
}
