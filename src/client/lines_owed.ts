// This module is browser compatible.

/**
 * Which chat lines an interactive /quit (or Ctrl-D) asks about, by identity:
 * those said pending (sent, no answer yet) and those typed that have not gone
 * out (each waits for the one before it). The question stands for the lines
 * it named; a second /quit leaves only if no other line is owed since. By
 * count alone, a line answered and another typed meanwhile left the count
 * as it was, and the second /quit dropped the new line without a word.
 *
 * @module
 */

import type { Reply } from "./chat_client.ts";
import { pendingOf } from "./answer_within.ts";
import type { unconfirmedChat } from "./unconfirmed_chat.ts";

type Chats = ReturnType<typeof unconfirmedChat>;

/**
 * `chats` with its lines followed: `owed()` names the lines pending or
 * waiting now, each by a number of its own; `unanswered()` the lines gone
 * out with no answer yet (said pending, or on their way).
 */
export function linesOwed(
  chats: Chats,
): Chats & {
  owed: () => ReadonlySet<number>;
  unanswered: () => ReadonlySet<number>;
} {
  let numbered = 0;
  /** Lines sent (`send`) whose first answer has not come, in the order typed. */
  const unanswered: number[] = [];
  /** Lines said pending whose answer has not come. */
  const pending = new Set<number>();
  const followed = (line: number, reply: Promise<Reply>): Promise<Reply> =>
    reply.then((reply) => {
      const at = unanswered.indexOf(line);
      if (at >= 0) unanswered.splice(at, 1);
      const later = pendingOf(reply);
      if (later !== undefined) {
        pending.add(line);
        const answered = () => pending.delete(line);
        void later.answer.then(answered, answered);
      }
      return reply;
    });
  return {
    ...chats,
    send: (command) => {
      const line = ++numbered;
      unanswered.push(line);
      return followed(line, chats.send(command));
    },
    follow: (...args) => followed(++numbered, chats.follow(...args)),
    // Lines gone out with no answer yet: those said pending, and those
    // on their way, not yet said pending (the web page's /quit asks about
    // them too: leaving cut them off, said not sent, when the server may
    // have stored them).
    unanswered: () => {
      const waiting = Math.min(chats.waiting(), unanswered.length);
      return new Set([
        ...pending,
        ...unanswered.slice(0, unanswered.length - waiting),
      ]);
    },
    owed: () => {
      // Lines go out in the order typed: those still waiting are the
      // newest not answered (the oldest of them may be on its way).
      const waiting = Math.min(chats.waiting(), unanswered.length);
      return new Set([
        ...pending,
        ...unanswered.slice(unanswered.length - waiting),
      ]);
    },
  };
}
