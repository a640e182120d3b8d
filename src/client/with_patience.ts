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

/** Whether `reply` is the server's `slow_down`. */
export function isSlowDown(reply: Answer): boolean {
  return reply.t === "error" && reply.code === "slow_down";
}

/**
 * Sends a request, and again after a pause while the server says `slow_down`
 * (or what else `again` takes for a refusal to try again).
 */
export async function withPatience<A extends Answer>(
  send: () => Promise<A>,
  again: (reply: A) => boolean = isSlowDown,
): Promise<A> {
  for (let attempt = 1;; attempt++) {
    const reply = await send();
    if (!again(reply) || attempt > SLOW_DOWN_RETRIES) return reply;
    await sleep(SLOW_DOWN_WAIT_MS * attempt);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
