// This module is browser compatible.

/**
 * Files our broken connection cut off go again, once we are back, in the
 * order they were sent: each takes its place (sending_places.ts), or its
 * turn for one, after those sent before it. Without this the order was
 * the order their ends were heard in and the microtasks after it: of six
 * photos to bob, 3, 2, 4, 1 were offered again before the two held ones.
 *
 * @module
 */

/** One file waiting for our connection, in the order kept. */
export interface InOrder {
  /** Resolves once every file sent before it has taken its place or ended. */
  turn: () => Promise<void>;
  /** It has taken its place, queued for one, or ended (again: no effect). */
  done: () => void;
}

/** The files waiting for our connection, by the order they were sent. */
export class ResumeOrder {
  #waiting = new Map<number, PromiseWithResolvers<void>>();

  /** File `seq` (the order it was sent in) waits for our connection. */
  hold(seq: number): InOrder {
    const own = this.#waiting.get(seq) ?? Promise.withResolvers<void>();
    this.#waiting.set(seq, own);
    return {
      turn: async () => {
        const before = [...this.#waiting].filter(([other]) => other < seq);
        await Promise.all(before.map(([, { promise }]) => promise));
      },
      done: () => {
        if (this.#waiting.get(seq) === own) this.#waiting.delete(seq);
        own.resolve();
      },
    };
  }

  /** Files waiting now (for tests). */
  get size(): number {
    return this.#waiting.size;
  }
}
