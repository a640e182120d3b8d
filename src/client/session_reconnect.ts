/**
 * Getting a session back in after its connection dropped: attempts with
 * backoff round the server's addresses, the status a person or a script
 * sees meanwhile, and the lines typed meanwhile, queued.
 *
 * @module
 */

import type { Identity } from "../crypto/identity.ts";
import {
  briefReason,
  type ChatClient,
  type Ending,
  wasUnanswered,
} from "./chat_client.ts";
import { hostKeyOf } from "./known_hosts.ts";
import { watchNetwork } from "./network_watch.ts";
import { type KeysToPublish, publishKeys } from "./publish_keys.ts";
import { RetryWait } from "./reconnect_backoff.ts";
import {
  fitStatusLine,
  HELD_BACK,
  heldBack,
  lostLine,
  MAX_HELD_BACK_ATTEMPTS,
  reconnectDelay,
  reconnectedLine,
  type ReconnectState,
  StateChanges,
} from "./reconnect_status.ts";
import { renderServerMessage } from "./render.ts";
import {
  connectTrusted,
  explainConnectError,
  type ServerNode,
  type ServerTrust,
  ServerTrustError,
} from "./server_connect.ts";
import type { Re } from "./session_events.ts";
import type { Output } from "./session_output.ts";
import type { StoreLedgers } from "./store_ledgers.ts";
import type { Terminal } from "./terminal.ts";

/** What reconnecting needs to know of the session. */
export interface ReconnectContext {
  terminal: Terminal;
  output: Output;
  urls: readonly string[];
  node: ServerNode;
  trust: ServerTrust;
  identity: Identity;
  ledger: StoreLedgers;
  json: boolean;
  e2e: KeysToPublish | undefined;
}

/** A script gives up after this many attempts; a person at a terminal never does. */
const SCRIPT_RECONNECT_ATTEMPTS = 6;

/** A line typed while disconnected, and the command number it will have. */
export interface Queued {
  line: string;
  number: number;
  re: Re;
}

/** What reconnecting needs from the session. */
export interface Waiting {
  /** Lines typed meanwhile, to be handled once back. */
  queue: Queued[];
  nextLine: () => Promise<string | null>;
  /** The line from `nextLine` was taken. */
  consumed: () => void;
  /** The next input line's number. */
  number: () => number;
  reOf: (line: string, number: number) => Re;
  isQuit: (line: string) => boolean;
  /**
   * Whether an interactive `/quit` is held for a question (lines cut off
   * before their answer, lines typed meanwhile and queued, files under
   * way): the next `/quit` leaves, unless a line was typed since.
   */
  askToLeave: () => boolean;
  /** The input is over (its end, or /quit, read): nothing more is read. */
  inputOver: () => void;
  /** The status row on a terminal (null: none). */
  showStatus: (line: string | null) => void;
  /**
   * What the user asked for that is not delivered yet (files being sent or
   * waiting for their answer, lines not confirmed), in a few words; null
   * when nothing is. A script whose input ended (or said quit) keeps
   * reconnecting while there is some.
   */
  unfinished: () => string | null;
}

/** Said once when a script's input is over and reconnecting goes on for `what`. */
export function finishingLine(what: string): string {
  return `Connection lost; reconnecting to finish sending ${what} (Ctrl-C to give up)`;
}

/**
 * Tries to get back in under the same name, with backoff and jitter
 * (reconnect_status.ts) from attempt `from` (reconnect_backoff.ts), while
 * queueing what the user types meanwhile. A person sees one status row,
 * updated in place, and a key retries at once; a script gets one line per
 * change of state. Resolves with the new client, the attempt that made it
 * and its sign-in's key publish (see publishKeys), or null when giving up
 * (or the user left).
 */
export async function reconnect(
  name: string,
  context: ReconnectContext,
  ending: Ending,
  from: number,
  waiting: Waiting,
): Promise<
  | { client: ChatClient; attempt: number; keysPublished: Promise<void> }
  | "left"
  | null
> {
  const { terminal } = context;
  const { emit } = context.output;
  const { queue } = waiting;
  // A script's limit is per outage: the backoff carried on from an earlier
  // one makes the waits longer, not the tries fewer.
  const tries = terminal.interactive ? Infinity : SCRIPT_RECONNECT_ATTEMPTS;
  const changes = new StateChanges();
  let state: ReconnectState = { kind: "lost", reason: ending.reason };
  // The last try's error as the scrollback has it (printed once, not each try).
  let printedError: string | null = null;
  const show = () => {
    if (terminal.interactive && !context.json) {
      // The countdown takes the status row at once: why the connection
      // ended (the server's words, "Server is shutting down.", or what it
      // broke) stays in the scrollback, once, and the status row says it
      // in a few words meanwhile.
      let shown = state;
      if (state.kind === "lost") {
        emit({ type: "notice", text: lostLine(ending.reason) });
        shown = { kind: "lost", reason: briefReason(ending) };
      }
      // So does the whole of a try's error, when it is a new one: the row
      // has room for its first words only.
      if (
        (state.kind === "waiting" || state.kind === "connecting") &&
        state.lastError !== null && state.lastError !== printedError
      ) {
        printedError = state.lastError;
        emit({
          type: "notice",
          text: `Still reconnecting: ${state.lastError}`,
        });
      }
      waiting.showStatus(
        fitStatusLine(shown, queue.length, Date.now(), terminal.columns),
      );
      // The end of it stays in the scrollback.
      if (state.kind === "reconnected") {
        emit({ type: "notice", text: reconnectedLine(state) });
      }
      if (state.kind === "gave_up") {
        emit({
          type: "error",
          re: null,
          code: "connection",
          text: `ERROR: Could not reconnect: ${state.reason}`,
        });
      }
      return;
    }
    const line = changes.line(state);
    if (line === null) return;
    if (context.json) {
      emit({ type: "connection", state, queued: queue.length });
    } else if (state.kind === "gave_up") {
      emit({
        type: "error",
        re: null,
        code: "connection",
        text: `ERROR: ${line}`,
      });
    } else {
      emit({ type: "notice", text: line });
    }
  };
  const enter = (next: ReconnectState) => {
    state = next;
    show();
  };
  show();

  let left = false;
  // The user left (/quit, Ctrl-D): on a terminal no failure to report,
  // only what was not sent.
  let userLeft = false;
  // The wait before the next attempt: a key pressed (or a new network)
  // cuts it short once per attempt, not once per key of a line typed.
  const retries = new RetryWait();
  const retryNow = () => retries.wake();
  // Lines typed while offline are kept; the end of input or /quit stops
  // trying, unless a script's files or lines are still under way: those it
  // asked for are finished first (the tries stay bounded), then it leaves.
  const over = Promise.withResolvers<void>();
  const collect = async () => {
    while (!left) {
      const line = await waiting.nextLine();
      if (left) return; // taken by the session again: not ours
      waiting.consumed();
      if (
        line !== null && waiting.isQuit(line) && terminal.interactive &&
        waiting.askToLeave()
      ) continue;
      if (line === null || waiting.isQuit(line)) {
        const unfinished = terminal.interactive ? null : waiting.unfinished();
        if (unfinished !== null) {
          waiting.inputOver();
          emit({ type: "notice", text: finishingLine(unfinished) });
          // Nothing more is read; the tries go on, at their pace.
          await over.promise;
          return;
        }
        left = true;
        userLeft = true;
        retryNow();
        return;
      }
      if (line.trim() === "") continue;
      const number = waiting.number();
      const re = waiting.reOf(line, number);
      queue.push({ line, number, re });
      // A terminal keeps the line as it was typed, and its status row
      // counts the lines queued: a "(queued)" copy showed it twice.
      if (!terminal.interactive || context.json) {
        emit({ type: "queued", re, line });
      }
      show();
    }
  };
  const collecting = collect();
  // Nobody would read what a new connection brought (the program reading
  // stdout is gone): no more attempts, and no one to tell it gave up.
  let readerGone = false;
  void context.output.readerGone.then(() => {
    readerGone = true;
    left = true;
    retryNow();
  });
  const stopKeys = terminal.onKeypress(() => retries.nudge());
  // A new network (another Wi-Fi, a cable) is worth trying at once too.
  const stopNetwork = watchNetwork(() => retries.nudge());
  // On a terminal the countdown moves every second.
  const ticker = terminal.interactive
    ? setInterval(() => state.kind === "waiting" && show(), 1000)
    : undefined;
  let lastError: string | null = null;
  // Attempts the server turned away for its address's rates: it is up and
  // lets them in a few at a time, so they are not a script's tries.
  let heldBackTries = 0;
  try {
    attempts: for (
      let attempt = from;
      attempt < from + tries + heldBackTries && !left;
      attempt++
    ) {
      const retryAt = Date.now() + reconnectDelay(attempt);
      retries.fresh();
      for (;;) {
        enter({
          kind: "waiting",
          attempt,
          retryAt,
          lastError,
          ...(retries.nudgeable ? {} : { keyUsed: true as const }),
        });
        // A key's try does not make the waits longer; when it fails, the
        // rest of this wait is waited out before the attempt's own try.
        const woke = await Promise.race([retries.until(retryAt), collecting]);
        if (left) break attempts;
        enter({ kind: "connecting", attempt, lastError });
        // Round robin from the address after the one that was lost: its node
        // is likely gone, another is likely up.
        const { urls, node } = context;
        const index = (node.index + attempt) % urls.length;
        const url = urls[index]!;
        try {
          const client = await connectTrusted(
            url,
            context.trust,
            terminal,
            node,
          );
          if (context.output.ackOnceWritten) client.ackWhenHandled();
          const reply = await client.register(
            name,
            context.identity,
            context.ledger,
          );
          if (reply.t === "welcome") {
            const keysPublished = publishKeys(
              client,
              context.e2e,
              context.output.emit,
            );
            left = true; // stops collecting; lines already taken stay queued
            waiting.showStatus(null);
            const moved = index !== node.index;
            node.index = index;
            enter({
              kind: "reconnected",
              name,
              ...(moved ? { server: hostKeyOf(url) } : {}),
            });
            return { client, attempt, keysPublished };
          }
          const ending = await client.quit();
          // Cut during the sign-in: why, in full (the reply has a few words).
          // Turned away for the address's rates: wait and try again, said
          // once (a new name's rate, minutes long, as the server says it,
          // an attempt as any other). Otherwise, most likely the server has
          // not yet noticed that our old connection died.
          const rated = heldBack(reply);
          if (rated && heldBackTries < MAX_HELD_BACK_ATTEMPTS) heldBackTries++;
          lastError = wasUnanswered(reply)
            ? ending.reason
            : rated
            ? HELD_BACK
            : renderServerMessage(reply, "", { color: false }).join(" ");
        } catch (error) {
          lastError = explainConnectError(error, url);
          // Another attempt would meet the same key: that is for a person to
          // sort out, unless other addresses may still be the server's.
          if (error instanceof ServerTrustError && urls.length === 1) {
            break attempts;
          }
        }
        if (woke !== "nudged") break;
      }
    }
    left = true;
    waiting.showStatus(null);
    // A script whose input ended before it was back did not get its lines
    // through: that stays a failure, said as one.
    if (userLeft && terminal.interactive) return "left";
    if (!readerGone) {
      enter({
        kind: "gave_up",
        reason: lastError ?? "the connection was closed",
      });
    }
    return null;
  } finally {
    left = true;
    over.resolve();
    retryNow();
    stopKeys();
    stopNetwork();
    clearInterval(ticker);
  }
}
