// This module is browser compatible.

/**
 * Where the reconnection backoff starts after a connection ends: again at
 * the first attempt after a connection that was healthy, or carrying on
 * from where the last reconnection stood after one that was not. A server
 * that breaks the protocol right after every welcome would otherwise be
 * tried every 0.5-1 s for ever, a scrollback line each time.
 *
 * @module
 */

/**
 * A connection that lasted this long after its welcome, and did not end in
 * a protocol violation, counts as healthy. Longer than the longest wait
 * (RECONNECT_MAX_MS, reconnect_status.ts): a server that breaks every
 * connection within it would otherwise be tried faster than the cap allows
 * at every reset. Short enough that a server restarted or a network that
 * dropped after a few seconds of chat is tried again at once.
 */
export const HEALTHY_AFTER_MS = 10_000;

/** How the last connection went, from its welcome to its end. */
export interface ConnectionLife {
  /** The attempt that made it (0: the first connection, no reconnection). */
  attempt: number;
  /** From its welcome to its end. */
  lastedMs: number;
  /** It ended because what came from the server broke the protocol. */
  brokeProtocol: boolean;
}

/**
 * The attempt number (1, 2, ...; see reconnectDelay) that reconnecting
 * after `life` starts at: 1 after a healthy connection, else one past the
 * attempt that made the connection, so the waits keep growing.
 */
export function firstAttempt(life: ConnectionLife): number {
  const healthy = !life.brokeProtocol && life.lastedMs >= HEALTHY_AFTER_MS;
  return healthy ? 1 : life.attempt + 1;
}

/**
 * The wait before a reconnection attempt, cut short by a key pressed (or a
 * new network) once per attempt: the attempt that makes runs at once, and
 * when it fails the rest of the wait is waited out, keys or not, before the
 * attempt's own try. Every key of a line typed while the server is down
 * would otherwise start an attempt of its own, each making the next wait
 * longer: after one line, the 14th attempt, 10 s apart.
 */
export class RetryWait {
  #wake = () => {};
  #nudgeable = true;
  #waiting = false;

  /** A new attempt: a key may cut its wait short again. */
  fresh(): void {
    this.#nudgeable = true;
  }

  /** Whether a key still cuts this attempt's wait short. */
  get nudgeable(): boolean {
    return this.#nudgeable;
  }

  /**
   * Resolves at `retryAt` (epoch ms) with "elapsed", or earlier with
   * "nudged" at the first `nudge` of this attempt, or at `wake`.
   */
  until(retryAt: number): Promise<"elapsed" | "nudged"> {
    return new Promise((resolve) => {
      this.#waiting = true;
      const end = (how: "elapsed" | "nudged") => {
        clearTimeout(timer);
        this.#waiting = false;
        this.#wake = () => {};
        resolve(how);
      };
      const timer = setTimeout(
        () => end("elapsed"),
        Math.max(0, retryAt - Date.now()),
      );
      this.#wake = () => end("nudged");
    });
  }

  /** A key pressed: ends the wait, once per attempt (none while trying). */
  nudge(): void {
    if (!this.#nudgeable || !this.#waiting) return;
    this.#nudgeable = false;
    this.#wake();
  }

  /** Ends the wait whatever was pressed before (the session is left). */
  wake(): void {
    this.#wake();
  }
}
