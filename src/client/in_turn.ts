// This module is browser compatible.

/**
 * Work done one piece after the other, in the order it came: a session's
 * chat lines are shown in the order they arrived, an end-to-end one opened
 * first and those after it waiting for it. A place can be held in that
 * order for something shown by other means (a file offer, once its key is
 * here and the user asked): what comes after it waits until it is let go.
 *
 * @module
 */

/** A place held in turn (`InTurn.hold`, `placeAfter`). */
export interface Place {
  /** Settles once everything before the place has. */
  readonly ready: Promise<void>;
  /** Settles once the place is let go, or its bound passed. */
  readonly released: Promise<void>;
  /** Lets the place go: what waits behind it goes on (again: no effect). */
  release(): void;
  /** Not let go yet (neither released nor past its bound). */
  readonly held: boolean;
}

/**
 * A place after `before`: let go by `release`, or at the latest `boundMs`
 * after `before` settled (counted from there, so a long queue before it
 * does not use the bound up), so that nothing waits behind it for ever.
 */
export function placeAfter(before: Promise<void>, boundMs: number): Place {
  const released = Promise.withResolvers<void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  const release = () => {
    if (done) return;
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    released.resolve();
  };
  const ready = before.then(() => {}, () => {});
  void ready.then(() => {
    if (!done) timer = setTimeout(release, boundMs);
  });
  return {
    ready,
    released: released.promise,
    release,
    get held() {
      return !done;
    },
  };
}

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

  /**
   * Holds the next place: what is run after it waits until it is let go,
   * or `boundMs` after everything before it settled (`placeAfter`).
   */
  hold(boundMs: number): Place {
    const place = placeAfter(this.#settled, boundMs);
    this.run(() => place.released);
    return place;
  }

  /** Settles once everything run so far has. */
  get settled(): Promise<void> {
    return this.#settled;
  }
}
