// This module is browser compatible.

/**
 * The one way the server writes: every change to the store happens inside
 * `commit`, one unit of work (one transaction) at a time, committed before
 * its result is used; a unit that fails is undone whole, logged, and
 * answered by its caller's fallback, so that a failing disk costs a reply,
 * never the server.
 *
 * Why one place: the routing core writes through the store synchronously
 * (it needs each message's id and seq to address it), and where a unit of
 * work begins and ends decides what a reply confirms. Keeping that decision
 * here is the seam where an asynchronous store (issue 19: JetStream) would
 * commit a unit and resolve its promise; `durable` is already one.
 */

import type { Store } from "../store/store.ts";

export class WritePath {
  readonly #store: Store;
  readonly #log: (line: string) => void;

  constructor(store: Store, log: (line: string) => void) {
    this.#store = store;
    this.#log = log;
  }

  /**
   * `work`'s result once its writes are committed; if it throws, its writes
   * are undone, the error is logged (its details stay in the log), and
   * `failed` answers instead.
   */
  commit<T>(work: () => T, failed: (error: unknown) => T): T {
    try {
      return this.#store.transaction(work);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.#log(`store failed: ${why}`);
      return failed(error);
    }
  }

  /**
   * Resolves once everything committed so far survives a power cut; null
   * when there is nothing to wait for (see Store.durable).
   */
  durable(): Promise<void> | null {
    return this.#store.durable();
  }
}
