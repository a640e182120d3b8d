// This module is browser compatible.

/**
 * What a user is told when the server holds this connection's replies: an
 * `alive` notice (docs/PROTOCOL.md 5.7) means the server is there and still
 * holds them, as a cluster node does while its message log (NATS) has not
 * taken a line yet. Everything sent after that line waits behind it (the
 * order promise, 5.9: a private line, a file, a `/list` may not overtake
 * it), so without a word the user sees nothing move and types things
 * again. Said once a wait: at its first `alive` (10 s into it). A wait is
 * a run of `alive` notices, one every 10 s; one that comes more than
 * NEW_WAIT_AFTER_MS after the last begins a new wait, said again.
 *
 * Only while something this client sent is unanswered: a server sends
 * `alive` only then, and one that sends it otherwise (hostile, or broken)
 * must not have the client say its message waits when none does.
 */

/** The line shown at the first `alive` of a wait. */
export const HELD_REPLIES_NOTICE =
  "Waiting for the cluster to store your message: what you sent after it waits its turn, and goes by itself once it is stored (do not type it again)";

/**
 * Past the server's 10 s between two `alive` of one wait (alive_while.ts
 * ALIVE_EVERY_MS), with room for a late timer: not imported, as the page
 * loads no server code.
 */
export const NEW_WAIT_AFTER_MS = 25_000;

export class HeldRepliesNotice {
  #lastAlive = Number.NEGATIVE_INFINITY;

  /**
   * The notice to show for an `alive` heard at `now` (ms), or null;
   * `unanswered`: what the client sent and has no reply to yet.
   */
  alive(now: number, unanswered: number): string | null {
    if (unanswered === 0) {
      // Nothing of ours waits: no wait goes on, and the next begins anew.
      this.#lastAlive = Number.NEGATIVE_INFINITY;
      return null;
    }
    const last = this.#lastAlive;
    this.#lastAlive = now;
    return now - last > NEW_WAIT_AFTER_MS ? HELD_REPLIES_NOTICE : null;
  }
}
