// This module is browser compatible.

/**
 * Gives the event loop back when one turn of it has run too long.
 *
 * Why the server needs it: its serving loops run in microtasks as long as
 * there is something to read in their inboxes, and a socket write that the
 * kernel takes at once completes in a `nextTick`, which releases the gauge,
 * which lets the senders route more, all without leaving the microtask
 * queue. Under a flood (99 senders x 2048 messages in flight, 1000 B each)
 * one such turn ran for 10-30 s: no timer fired (pings, the stall cut-off,
 * the memory trim), no socket was read, and a recipient's frames piled up in
 * user space instead of its socket. The serving loops ask here before each
 * frame and each run: past `budgetMs` since the turn began they wait for the
 * next one (a timer: Deno polls sockets between such turns, if not after
 * each; an immediate would poll them far less, src/server/server_turns.ts).
 *
 * A socket read loop needs it too: a read the kernel can answer at once
 * resolves without the event loop, so a peer that floods keeps one reading
 * in microtasks, and timers wait (src/transport/tcp_websocket.ts).
 */
export class TurnBudget {
  /** When the current turn was first seen, or null: no mark set yet. */
  #since: number | null = null;
  #waiters: (() => void)[] = [];

  constructor(
    readonly budgetMs: number,
    readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Null to carry on now; else a promise that resolves in a later turn of
   * the event loop.
   */
  check(): Promise<void> | null {
    const now = this.now();
    if (this.#since === null) {
      // A timer fires only once the loop has come round: its firing ends
      // the turn we are in.
      this.#since = now;
      setTimeout(this.#turned, 0);
      return null;
    }
    if (now - this.#since < this.budgetMs) return null;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #turned = (): void => {
    this.#since = null;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  };
}
