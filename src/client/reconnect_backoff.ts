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
