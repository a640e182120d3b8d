// This module is browser compatible.

/**
 * What a user has been shown, per store (issue 19; docs/PROTOCOL.md 5.3 and
 * 5.9): a message's id and seq mean something only in the store that gave
 * them, and the server's `welcome` says which store that is. A client that
 * moves to another node of a cluster (another store, until the nodes share
 * one) must neither drop a new message as a duplicate of one that had the
 * same id on the old node, nor acknowledge the old node's cursors on the new
 * one; coming back to a node, it finds its record of that node again.
 *
 * One DeliveryLedger per store; this picks the one of the store the client
 * is connected to now. A session keeps one of these across reconnects.
 */

import { DeliveryLedger } from "./delivery.ts";

/** How many stores' ledgers are kept: the nodes of a small cluster. */
export const REMEMBERED_STORES = 8;

export class StoreLedgers {
  #current: DeliveryLedger;
  #store: string | null = null;
  /** Ledgers of the stores seen before, oldest first. */
  readonly #others = new Map<string, DeliveryLedger>();

  /** `first`: what was shown before any store was announced. */
  constructor(first: DeliveryLedger = new DeliveryLedger()) {
    this.#current = first;
  }

  /** The ledger of the store connected to now. */
  get current(): DeliveryLedger {
    return this.#current;
  }

  /** The store whose ledger is current; null before any was announced. */
  get store(): string | null {
    return this.#store;
  }

  /**
   * The server just welcomed us announcing `store` (undefined: a server
   * that announces none, whose positions are taken as those seen so far);
   * returns the ledger to judge what it sends by. Called before anything
   * that follows the welcome is judged.
   */
  useStore(store: string | undefined): DeliveryLedger {
    if (store === undefined || store === this.#store) return this.#current;
    if (this.#store === null) {
      // The first store announced: what was seen so far was seen there
      // (or from a server that announced none: nothing better to go by).
      this.#store = store;
      return this.#current;
    }
    this.#others.delete(this.#store);
    this.#others.set(this.#store, this.#current);
    if (this.#others.size > REMEMBERED_STORES) {
      const oldest = this.#others.keys().next();
      if (!oldest.done) this.#others.delete(oldest.value);
    }
    this.#current = this.#others.get(store) ?? new DeliveryLedger();
    this.#others.delete(store);
    this.#store = store;
    return this.#current;
  }
}
