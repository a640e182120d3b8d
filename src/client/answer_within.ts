// This module is browser compatible.

/**
 * The server's answer to a chat line sent end to end, waited for a bounded
 * time: end-to-end messages are sealed, sent and opened one at a time
 * (e2e_sessions.ts, group_sessions.ts), and a server that never answers a
 * send would otherwise hold every later message, sent or received, behind
 * it. The queue goes on after {@link SEND_WAIT_MS}; the line does not fail
 * then: an honest server under load (a flood, a slow disk, a reconnection's
 * backlog) may answer later, and a line said to have failed is typed again,
 * and then arrives twice. It stays pending ({@link stillPending}), and its
 * answer is shown when it comes.
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
 * The client's error code (`--json`'s `code`) for a line not sent because
 * the server did not answer a request it needed in time: not `internal`, a
 * fault of the client's or the server's; no wire code (protocol/messages.ts
 * ERROR_CODES), as the server never says it.
 */
export const TIMEOUT_CODE = "timeout";

const unansweredReplies = new WeakSet<Reply>();

/**
 * The error a line gets that was not sent because the server did not answer
 * a request it needed in time (`text` says which): marked, so that its code
 * is {@link TIMEOUT_CODE} ({@link errorCodeOf}).
 */
export function notAnswered(text: string): Reply {
  const reply: Reply = { t: "error", re: null, code: "internal", text };
  unansweredReplies.add(reply);
  return reply;
}

/**
 * The code an error reply is reported with: the server's, or
 * {@link TIMEOUT_CODE} for one made by {@link notAnswered}.
 */
export function errorCodeOf(
  reply: Extract<Reply, { t: "error" }>,
): string {
  return unansweredReplies.has(reply) ? TIMEOUT_CODE : reply.code;
}

/** A line still waiting for its answer: to whom, and the answer to come. */
export interface Pending {
  /** The person or group the line went to. */
  to: string;
  /** The server's answer when it comes (archived first if it went). */
  answer: Promise<Reply>;
}

const pendingReplies = new WeakMap<Reply, Pending>();

/**
 * What a line gets whose answer did not come within {@link SEND_WAIT_MS}:
 * a reply that says so, marked ({@link pendingOf}) with the answer to come.
 * A caller that knows the mark tells the user the line is pending
 * ({@link pendingNotice}) and shows `answer` when it comes; one that does
 * not shows the reply's text, an error that says the line may still go.
 */
export function stillPending(to: string, answer: Promise<Reply>): Reply {
  const reply: Reply = {
    t: "error",
    re: null,
    code: "internal",
    text: `ERROR: The server has not answered your message to ${to} within ${
      SEND_WAIT_MS / 1000
    } seconds: it may still be delivered`,
  };
  pendingReplies.set(reply, { to, answer });
  return reply;
}

/** The line `reply` stands for is still pending: its answer to come. */
export function pendingOf(reply: Reply): Pending | undefined {
  return pendingReplies.get(reply);
}

/**
 * What the user reads of a pending line: not a failure, and no call to
 * type it again (the server may store it; a line typed again is a new one).
 * `resent`: the line goes again by itself, with the same cid, if the
 * connection drops first (the terminal's unconfirmed_chat.ts).
 */
export function pendingNotice(to: string, resent: boolean): string {
  return `The server has not answered your message to ${to} within ${
    SEND_WAIT_MS / 1000
  } seconds: it is still pending, and shown as sent when the answer comes${
    resent ? " (it goes again by itself if the connection drops)" : ""
  }; do not type it again`;
}

/**
 * Said just before a pending line's answer (its usual line, or an error)
 * when it comes: after what came meanwhile, lines typed after it among them,
 * not in the line's own place, so it is marked as late.
 */
export function lateNotice(to: string): string {
  return `Late answer to your message to ${to}, said pending above (what came after it may be shown before it):`;
}
