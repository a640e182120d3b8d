// This module is browser compatible.

/**
 * What an end-to-end chat line was sealed into, by its client id, until the
 * server answers it. A line whose connection ended before the answer
 * (chat_client.ts `wasUnanswered`) is sent again on the next connection
 * with the same cid (session.ts), and must be the same bytes: the server may
 * have stored the first send, and then keeps it and drops the retry (docs/
 * PROTOCOL.md, "Delivery"). Sealed anew, the sender's archive would hold the
 * digest of an envelope the server never kept, and the sender's ratchet
 * would skip a key the recipient then keeps waiting for.
 */

import { type Reply, wasUnanswered } from "./chat_client.ts";

/** Lines kept for a retry, at most (a retry comes within a reconnect). */
export const MAX_SEALED_KEPT = 256;

export class SealedRetries<T> {
  readonly #byCid = new Map<string, T>();

  get(cid: string): T | undefined {
    return this.#byCid.get(cid);
  }

  /** Keeps what `cid` was sealed into, forgetting the oldest past the cap. */
  keep(cid: string, sealed: T): void {
    this.#byCid.set(cid, sealed);
    for (const old of this.#byCid.keys()) {
      if (this.#byCid.size <= MAX_SEALED_KEPT) break;
      this.#byCid.delete(old);
    }
  }

  /** The server's reply to `cid`: forgotten once it is a real answer. */
  answered(cid: string, reply: Reply): void {
    if (reply.t !== "ok" && reply.t !== "error") return;
    if (wasUnanswered(reply)) return;
    this.#byCid.delete(cid);
  }
}
