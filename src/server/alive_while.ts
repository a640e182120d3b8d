// This module is browser compatible.

/**
 * A connection whose replies wait (a cluster node's run waiting for the
 * message log, however long NATS is away) is read no further meanwhile:
 * its replies keep their order (docs/PROTOCOL.md 5.2), its client's `ping`
 * among them, as clients use a `pong` to know that what they sent before
 * it was taken. Unanswered, a client gives up on a server it has not heard
 * from in 60 s (the web page in 240 s) and signs in again, which a node
 * without NATS refuses. So the server says it is there with an `alive`
 * notice (5.7) every ALIVE_EVERY_MS of the wait: any frame is a sign of
 * life to a client, and one from before `alive` skips it as an unknown
 * type.
 */

/**
 * How often: the log's wait before it is said slow (shared_log.ts
 * LOG_WAIT_MS), a third of the 30 s of silence after which the reference
 * client pings, so that it never has to.
 */
export const ALIVE_EVERY_MS = 10_000;

/** `wait`, with `sayAlive` called every `everyMs` until it settles. */
export function aliveWhile<T>(
  wait: Promise<T>,
  sayAlive: () => void,
  everyMs: number = ALIVE_EVERY_MS,
): Promise<T> {
  const timer = setInterval(sayAlive, everyMs);
  return wait.finally(() => clearInterval(timer));
}
