// This module is browser compatible.

/**
 * The server's answer to a chat line sent end to end, waited for a bounded
 * time: end-to-end messages are sealed, sent and opened one at a time
 * (e2e_sessions.ts, group_sessions.ts), and a server that never answers a
 * send would otherwise hold every later message, sent or received, behind
 * it.
 *
 * @module
 */

import type { Reply } from "./chat_client.ts";

/**
 * How long a sent message's answer is waited for in the queue: longer than
 * a key request's (BUNDLE_WAIT_MS), since a send the user is told failed may
 * still have gone.
 */
export const SEND_WAIT_MS = 10_000;

/** The answer `reply` brings within `ms`, or null. */
export async function answerWithin(
  reply: Promise<Reply>,
  ms = SEND_WAIT_MS,
): Promise<Reply | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      reply,
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The error a line gets whose answer did not come within
 * {@link SEND_WAIT_MS}: the server may still have taken it.
 */
export function unconfirmedReply(to: string): Reply {
  return {
    t: "error",
    re: null,
    code: "internal",
    text: `ERROR: The server did not answer within ${
      SEND_WAIT_MS / 1000
    } seconds: your message to ${to} may not have been delivered`,
  };
}
