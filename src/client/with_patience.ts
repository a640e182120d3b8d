// This module is browser compatible.

/**
 * Requests a server refuses with `slow_down` (its rate limit), tried again
 * after growing pauses rather than reported at once.
 *
 * @module
 */

/** How often a request refused with `slow_down` is tried again, and after how long. */
export const SLOW_DOWN_RETRIES = 10;
export const SLOW_DOWN_WAIT_MS = 500;

/**
 * A server's answer, as far as patience needs it: generic rather than
 * `ChatClient`'s `Reply`, which would make the client and this module import
 * each other (the client signs in with patience).
 */
type Answer = { t: string; code?: string };

/** Sends a request, and again after a pause while the server says `slow_down`. */
export async function withPatience<A extends Answer>(
  send: () => Promise<A>,
): Promise<A> {
  for (let attempt = 1;; attempt++) {
    const reply = await send();
    if (
      reply.t !== "error" || reply.code !== "slow_down" ||
      attempt > SLOW_DOWN_RETRIES
    ) return reply;
    await sleep(SLOW_DOWN_WAIT_MS * attempt);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
