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
  readonly #byCid = new Map<string, { line: string; sealed: T }>();

  /**
   * The refusal for a `cid` sealed for another line than `line` (its
   * recipient and content, as the caller spells them), or null. A retry is
   * the same line: an envelope must never go to anyone else or stand for
   * another text (the server keeps one line per cid).
   */
  refusal(cid: string, line: string): Reply | null {
    const kept = this.#byCid.get(cid);
    if (kept === undefined || kept.line === line) return null;
    return {
      t: "error",
      re: null,
      code: "bad_request",
      text:
        "ERROR: Not sent: this client id was used for another line (a bug: please report it)",
    };
  }

  /** What `cid` was sealed into, if it was (see refusal). */
  get(cid: string): T | undefined {
    return this.#byCid.get(cid)?.sealed;
  }

  /** Keeps what `cid` was sealed into, forgetting the oldest past the cap. */
  keep(cid: string, line: string, sealed: T): void {
    this.#byCid.set(cid, { line, sealed });
    for (const old of this.#byCid.keys()) {
      if (this.#byCid.size <= MAX_SEALED_KEPT) break;
      this.#byCid.delete(old);
    }
  }

  /** The server's reply to `cid`: forgotten once it is a real answer. */
  answered(cid: string, reply: Reply): void {
    if (reply.t !== "ok" && reply.t !== "error") return;
    if (wasUnanswered(reply)) return;
    // Refused for its rate, it goes again after a pause (with_patience.ts):
    // as these bytes. Sealed anew it took another key of the chain, and the
    // recipient saw the refused one's key skipped, a message that never
    // came (unarrived.ts), though nothing was held back.
    // The same for a group message refused as the group's members changed
    // (group_sessions.ts): sent again once those who joined have the chain.
    if (
      goesAgain(reply) ||
      (reply.t === "error" && reply.code === "members_changed")
    ) return;
    this.#byCid.delete(cid);
  }
}

/**
 * Whether a chat line refused with `reply` goes again after a pause, as the
 * same bytes (same cid): refused for its rate (`slow_down`), or the server's
 * own `internal` ("could not save that; try again": its store or its
 * cluster's log refused it, and it was not stored, PROTOCOL 5.9). Told to
 * the user, it was typed again and sealed anew, and the first one's key,
 * skipped, was said not to have arrived (unarrived.ts) though the host was
 * honest. Not an `internal` the client made itself (no `re`: it was not
 * sent, or its state could not be saved) nor one for an answer that never
 * came (the reconnection sends those again).
 */
export function goesAgain(reply: Reply): boolean {
  if (reply.t !== "error") return false;
  if (reply.code === "slow_down") return true;
  return reply.code === "internal" && reply.re !== null &&
    !wasUnanswered(reply);
}
