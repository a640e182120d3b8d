// This module is browser compatible.

/**
 * Chat lines (say, msg, gsay) sent with a client id (cid), and sent again
 * with it on the next connection when theirs ended before the server
 * answered: the server may have stored them, and one that recognises
 * retries stores each once.
 *
 * @module
 */

import {
  type ChatClient,
  newClientId,
  type Reply,
  sendFailed,
  wasUnanswered,
} from "./chat_client.ts";
import type { Command } from "./commands.ts";
import { perform } from "./command_requests.ts";
import type { E2eSessions } from "./e2e_sessions.ts";
import type { GroupSessions } from "./group_sessions.ts";
import {
  isSlowDown,
  SLOW_DOWN_WAIT_MS,
  withPatience,
} from "./with_patience.ts";
import { goesAgain } from "./sealed_retries.ts";
import {
  answerWithin,
  pendingOf,
  SEND_WAIT_MS,
  stillPending,
} from "./answer_within.ts";

export /** A line of chat: sent with a client id, and sent again if unconfirmed. */
type ChatCommand = Extract<Command, { kind: "say" | "msg" | "gsay" }>;

/** A place in the order lines go out in (see `unconfirmedChat().turn`). */
export interface Turn {
  /** Everything typed before went out. */
  ready: Promise<void>;
  /** This went out: the next may go. */
  done: () => void;
}

/**
 * What a line said pending gets when the server's late answer refuses it
 * with slow_down after lines typed after it went out: sent again, it would
 * come after them.
 */
export const lateRefusal =
  "ERROR: Not delivered: the server refused it as sent too fast, after the lines you typed after it had gone out; it is not sent again by itself (it would come after them): type it again to send it";

export function isChat(command: Command): command is ChatCommand {
  return command.kind === "say" || command.kind === "msg" ||
    command.kind === "gsay";
}

export interface UnconfirmedChatOptions {
  /**
   * Private messages end to end; null without keys. Only `sendText` is
   * used: the web page's checks its own keys were published first.
   */
  e2e: Pick<E2eSessions, "sendText"> | null;
  /** Group messages end to end; null without keys (only `send` is used). */
  groupSessions: Pick<GroupSessions, "send"> | null;
  /**
   * The session reconnects (else a line cut off is reported at once); asked
   * each time a line is cut off (the web page stops reconnecting once left).
   */
  reconnect: boolean | (() => boolean);
  /** The connection now. */
  client: () => ChatClient;
  /**
   * How long a line in the clear (a public one, and without keys a private
   * or group one) holds the next before it is said pending: SEND_WAIT_MS,
   * as an end-to-end one's (answer_within.ts). Tests shorten it.
   */
  answerWaitMs?: number;
}

export function unconfirmedChat(options: UnconfirmedChatOptions): {
  /**
   * Sends a chat line; resolves with the server's answer, on whichever
   * connection it came, or with a pending reply (answer_within.ts) whose
   * answer is that.
   */
  send: (command: ChatCommand) => Promise<Reply>;
  /**
   * Follows a line sent elsewhere on `client` with `cid` (what /trust sent
   * once a key was accepted) from its first `reply` on, as `send` does its
   * own: a pending reply resolves with the answer to come, and a line whose
   * connection ended goes again, same cid, on the next.
   */
  follow: (
    client: ChatClient,
    command: ChatCommand,
    cid: string,
    reply: Reply,
  ) => Promise<Reply>;
  /** Sends again on `next` what waits for a connection (null: none comes). */
  retry: (next: ChatClient | null) => void;
  /**
   * A place in the order lines go out in, for what is not a chat line (a
   * file offer): `ready` once every line before it went, and the next
   * waits until `done` is called.
   */
  turn: () => Turn;
  /**
   * Lines said pending (sent, not answered within SEND_WAIT_MS) whose
   * answer has not come yet: what /quit asks about before it leaves.
   */
  pending: () => number;
  /**
   * Lines typed that have not gone out yet, each waiting for the one
   * before it to be answered (or in a slow_down pause, refused and not
   * tried again yet): what /quit asks about too, since leaving drops them
   * unsent.
   */
  waiting: () => number;
  /**
   * The user left: a line typed that has not gone out yet never goes
   * (what /quit said of it), and is answered not sent; those typed after
   * (once back: the web page's Connect again) go.
   */
  leave: () => void;
} {
  const { e2e, groupSessions, reconnect, client: current } = options;
  const answerWaitMs = options.answerWaitMs ?? SEND_WAIT_MS;
  // A line in the clear whose answer does not come within answerWaitMs is
  // said pending, as an end-to-end one is (those bound their own wait,
  // after the keys and the sealing): the next goes then, behind it on the
  // same connection, instead of waiting with every later line until the
  // connection drops (a live server stuck on it). The order typed stays
  // the order sent; what the user may see out of order is the pending
  // line's confirmation, shown when its answer comes (marked late).
  const inTheClear = (command: ChatCommand): string | null =>
    command.kind === "say"
      ? "everyone"
      : command.kind === "msg"
      ? e2e === null ? command.to : null
      : groupSessions === null
      ? command.group
      : null;
  const bounded = (
    command: ChatCommand,
    reply: Promise<Reply>,
  ): Promise<Reply> => {
    const to = inTheClear(command);
    if (to === null) return reply;
    return answerWithin(reply, answerWaitMs).then((answer) =>
      answer ?? stillPending(to, reply)
    );
  };
  // Chat lines whose connection ended before the server answered, oldest
  // first: the server may have stored them. Each goes again, with the same
  // cid, on the next connection (once back, before what was typed
  // meanwhile); a server that recognises retries stores it once.
  // Each kept with the place its line was typed in: put back in that order
  // whatever order their connection's end reached them in.
  const unconfirmed: {
    place: number;
    retry: (next: ChatClient | null) => Promise<void>;
  }[] = [];
  let counted = 0;
  // No connection comes (retry(null)) until one does: a line cut off
  // meanwhile (leaving cut the last one) is answered at once, not kept for
  // a retry that never comes.
  let noneComes = false;
  const retryUnconfirmed = (next: ChatClient | null) => {
    noneComes = next === null;
    const waiting = unconfirmed.splice(0).sort((a, b) => a.place - b.place);
    for (const { retry } of waiting) void retry(next);
  };
  // Lines of every kind go out one after the other, in the order typed:
  // each waits until the one before it was answered (or said pending, or
  // cut off). A group line first asks for the members and may give out a
  // sender key, a private one may fetch keys: a public line typed after
  // either went out first when nothing held it back, and reached the
  // others first (typed at once, or queued while cut off and sent once
  // back). An end-to-end line not answered within SEND_WAIT_MS is said
  // pending (answer_within.ts), on the wire already: the next goes then,
  // behind it on the same connection. One refused with slow_down holds the
  // next until it went.
  let turn: Promise<void> = Promise.resolve();
  let places = 0;
  let waiting = 0;
  // Lines typed at places up to this one were typed before the user last
  // left: they never go. Those typed after (the web page's Connect again)
  // do: a flag set at /quit held back every line typed once back.
  let leftAt = 0;
  // A send answers its line whatever happens (`go`): the catch only keeps
  // the lines after it going.
  const inTurn = (send: () => Promise<void>): void => {
    turn = turn.then(send).catch(() => {});
  };
  // Lines cut off and due to go again, by the place they were typed in:
  // each goes before the next send of a line typed after it, whatever
  // holds the turn now. Put at the end of the turns instead, one went
  // after the lines already waiting there, and after the line in its turn
  // across the reconnection (in its slow_down pause, or behind the
  // end-to-end queue) that learnt its connection ended only once the next
  // had taken over and went at once: a sender's lines stored out of order.
  const due: { place: number; go: () => Promise<void> }[] = [];
  const sendDue = async (before: number): Promise<void> => {
    while (due.length > 0 && due[0]!.place < before) {
      await due.shift()!.go().catch(() => {});
    }
  };
  const sendChat = (
    command: ChatCommand,
    sent?: { client: ChatClient; cid: string; reply: Reply },
  ): Promise<Reply> =>
    new Promise((resolve) => {
      const cid = sent?.cid ?? newClientId();
      const place = ++places;
      // A line typed counts in `waiting` until it goes on the wire, and
      // again while refused with slow_down and not tried again yet:
      // counted as gone from its turn on, one not yet sent was said at
      // /quit to be on its way (it "may or may not be delivered"), and one
      // said not sent could still go in the goodbye's wait.
      const typed = sent === undefined;
      let unsent = typed;
      if (typed) waiting++;
      const held = (now: boolean) => {
        if (!typed || unsent === now) return;
        unsent = now;
        waiting += now ? 1 : -1;
      };
      const leftUnsent = (): Reply =>
        sendFailed(new Error("you left before it went out"));
      // Where the line's next answer goes: the caller's promise, then,
      // once it was told the line is pending, that pending answer's.
      let answered = resolve;
      // Sent again after a refusal that came once it was said pending:
      // after the server's pause, still before the lines typed after it.
      let pause = 0;
      // `now`: in its turn already (else it takes the next one).
      const attempt = (
        client: ChatClient,
        first?: Reply,
        now = false,
      ): Promise<void> => {
        // An `internal` goes again only to a server that stores a cid
        // once: one from before cids may have stored it after all.
        const again = (reply: Reply) =>
          isSlowDown(reply) || (client.recognisesRetries && goesAgain(reply));
        // `ours`: taken within the line's own turn (the next line waits
        // for what it returns), not after it was said pending.
        const take = (reply: Reply, ours = false): Promise<void> => {
          const pending = pendingOf(reply);
          if (pending !== undefined) {
            // Not answered within SEND_WAIT_MS: the caller hears so now,
            // and gets the answer when it comes, on whichever connection
            // (the line sent again with its cid if this one ends first).
            // Told once: a retry pending again is only followed.
            if (answered === resolve) {
              const later = Promise.withResolvers<Reply>();
              answered(stillPending(pending.to, later.promise));
              counted++;
              answered = (reply) => {
                counted--;
                later.resolve(reply);
              };
            }
            void pending.answer.then((reply) => take(reply));
            return Promise.resolve();
          }
          // Refused with slow_down after it was said pending: the lines
          // typed after it went on meanwhile. With none typed since (a
          // chat line, a file offer), sending it again keeps the order
          // typed, and it goes, after the server's pause; otherwise it
          // would come after them, and the user hears it was not
          // delivered, and how to send it, where the refusal alone left
          // it said pending ("do not type it again") and never sent.
          // The same for the server's own `internal` (its log refused it
          // once NATS was slow to answer: pending first): shown, it was
          // typed again, sealed anew, and its recipient told that a
          // message had not arrived; with lines typed since, its own
          // "try again" says what to do.
          if (!ours && answered !== resolve && again(reply)) {
            if (places === place) {
              pause = SLOW_DOWN_WAIT_MS;
              return attempt(current());
            }
            answered(
              reply.t === "error" && reply.code === "slow_down"
                ? { ...reply, text: lateRefusal }
                : reply,
            );
            return Promise.resolve();
          }
          if (
            !wasUnanswered(reply) || noneComes ||
            !(typeof reconnect === "boolean" ? reconnect : reconnect())
          ) {
            answered(reply);
            return Promise.resolve();
          }
          const retry = (
            next: ChatClient | null,
            now = false,
          ): Promise<void> => {
            // Without a server that recognises the cid, sending again
            // could store it twice: the user hears it may not be sent.
            if (next === null || !next.recognisesRetries) {
              answered(reply);
              return Promise.resolve();
            }
            return attempt(next, undefined, now);
          };
          // Already back on a newer connection: go at once, still in this
          // line's turn when it is taken there (a line refused with
          // slow_down tried again after a pause on the connection lost
          // meanwhile): put at the end of the turns, it went after the
          // lines typed after it.
          if (current() !== client && !current().isOver) {
            return retry(current(), ours);
          }
          unconfirmed.push({ place, retry });
          return Promise.resolve();
        };
        if (first !== undefined) return take(first);
        // A send that throws (its end-to-end state could not be saved, say)
        // is answered with why: dropped by the turn's catch, the line was
        // lost without a word, and the caller (a script's next command)
        // waited for its answer for ever.
        const go = () =>
          withPatience(async () => {
            if (pause > 0) {
              await new Promise((wake) => setTimeout(wake, pause));
              pause = 0;
            }
            await sendDue(place);
            if (place <= leftAt && unsent) return leftUnsent();
            held(false);
            const reply = await bounded(
              command,
              perform(
                client,
                command,
                cid,
                e2e === null
                  ? null
                  : (to, text, cid) => e2e.sendText(client, to, text, cid),
                groupSessions === null
                  ? null
                  : (group, text, cid) =>
                    groupSessions.send(client, group, text, cid),
              )!,
            );
            // Refused: not gone out, until tried again after the pause.
            if (again(reply)) held(true);
            return reply;
          }, again).then(
            (reply) => {
              held(false);
              return take(reply, true);
            },
            (error: unknown) => {
              held(false);
              answered(sendFailed(error));
            },
          );
        if (now) return go();
        due.push({ place, go });
        due.sort((a, b) => a.place - b.place);
        inTurn(() => sendDue(Infinity));
        return Promise.resolve();
      };
      // A new line goes on the connection there is when its turn comes.
      if (sent === undefined) {
        inTurn(async () => {
          await sendDue(place);
          if (place <= leftAt) {
            held(false);
            answered(leftUnsent());
            return;
          }
          return attempt(current(), undefined, true);
        });
      } else attempt(sent.client, sent.reply);
    });

  return {
    send: (command) => sendChat(command),
    follow: (client, command, cid, reply) =>
      sendChat(command, { client, cid, reply }),
    retry: retryUnconfirmed,
    turn: () => {
      // A place of its own: a line refused late goes again only if nothing
      // was typed after it, a file offer neither.
      places++;
      const done = Promise.withResolvers<void>();
      const ready = turn;
      turn = turn.then(() => done.promise);
      return { ready, done: () => done.resolve() };
    },
    pending: () => counted,
    waiting: () => waiting,
    leave: () => {
      leftAt = places;
    },
  };
}
