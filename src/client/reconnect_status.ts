// This module is browser compatible.

/**
 * What the user sees while the client reconnects (issue 15): the delays
 * between attempts and one status, updated in place on a terminal, or one
 * line per change of state for a script (never one per attempt).
 *
 * @module
 */

import { TOO_MANY_NEW_NAMES } from "../protocol/sign_in_refusals.ts";
import { textColumns } from "./input_block.ts";

/** The first delay; each attempt doubles it up to the cap. */
export const RECONNECT_FIRST_MS = 1000;
/** No wait is longer than this: a server back after a restart is found soon. */
export const RECONNECT_MAX_MS = 10_000;

/**
 * How long to wait before attempt `attempt` (1, 2, ...): 1 s, 2 s, 4 s, 8 s,
 * then 10 s, each scaled by a random 50-100 % so that clients cut at once do
 * not all come back at once. `random` returns a number in [0, 1).
 */
export function reconnectDelay(
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(
    RECONNECT_FIRST_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 16),
    RECONNECT_MAX_MS,
  );
  return Math.round(base * (0.5 + random() / 2));
}

/**
 * How many times a first connection is tried while the server refuses it
 * for a while: by `chat connect`, five waits of its `Retry-After` (5 s from
 * the reference server, passingRefusal in server_connect.ts), about the
 * half minute a reconnection's sign-in waits for its address's rates; by
 * the page, which is not told why its WebSocket failed, five of
 * reconnectDelay's waits (12 to 25 s in all).
 */
export const FIRST_CONNECT_TRIES = 6;

/**
 * An attempt whose sign-in the server turned away for its address's rates
 * (`limit`: too many sign-ins; `slow_down`: too many messages), as when a
 * class behind one address comes back at once after a restart: the server
 * is up and lets them in a few at a time. Said so, once, rather than as the
 * server's ERROR line, and tried again after the usual wait.
 */
export const HELD_BACK =
  "the server lets sign-ins from your address in a few at a time; trying again shortly";

/**
 * Whether a reconnection's sign-in refused with `reply` was turned away for
 * its address's rates only for a while (HELD_BACK): `slow_down`, or a
 * `limit` on sign-ins. A `limit` on new names (the server no longer knows
 * this name: restarted with `--data :memory:`, say) is not: it lasts minutes,
 * and is said as the server says it.
 */
export function heldBack(
  reply: { t: string; code?: string; text?: string },
): boolean {
  if (reply.t !== "error") return false;
  return reply.code === "slow_down" ||
    (reply.code === "limit" && reply.text !== TOO_MANY_NEW_NAMES);
}

/**
 * Attempts turned away so (HELD_BACK) that a script does not count among
 * its tries: about 5 minutes of them at the longest wait.
 */
export const MAX_HELD_BACK_ATTEMPTS = 30;

/** Where reconnecting stands. */
export type ReconnectState =
  /** The connection dropped; `reason` says how (safe to print). */
  | { kind: "lost"; reason: string }
  /** Waiting until `retryAt` (epoch ms) before attempt `attempt`. */
  | {
    kind: "waiting";
    attempt: number;
    retryAt: number;
    /** Why the last attempt failed, or null before the first one. */
    lastError: string | null;
    /** A key already cut this wait short (RetryWait): another does not. */
    keyUsed?: true;
  }
  /** Attempt `attempt` is under way. */
  | { kind: "connecting"; attempt: number; lastError: string | null }
  /**
   * Back in, under `name`; `server` (host:port) when that is another of
   * the server's addresses than before (a node of a cluster, issue 19).
   */
  | { kind: "reconnected"; name: string; server?: string }
  /** No more attempts. */
  | { kind: "gave_up"; reason: string };

/** What a wait says cuts it short on a terminal, or a page with keys. */
export const PRESS_A_KEY = "press a key to retry now";
/**
 * What it says on a touch screen, which has no keys to press (the web page
 * shows a Retry now button there).
 */
export const TAP_RETRY = "tap Retry now";

/**
 * The status row shown on a terminal while reconnecting, or null when
 * there is nothing to show (back in). `queued`: lines typed meanwhile;
 * `retryHint`: how to cut a wait short (PRESS_A_KEY, or TAP_RETRY).
 */
export function statusLine(
  state: ReconnectState,
  queued: number,
  now: number,
  retryHint: string = PRESS_A_KEY,
): string | null {
  const waiting = queued === 0
    ? ""
    : `; ${queued} ${queued === 1 ? "line" : "lines"} queued`;
  switch (state.kind) {
    case "lost":
      return `${state.reason} Reconnecting${waiting}...`;
    case "waiting": {
      const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
      const key = state.keyUsed === true ? "" : `; ${retryHint}`;
      return `Reconnecting in ${seconds} s (attempt ${state.attempt}${waiting}${key})${
        lastTry(state.lastError)
      }`;
    }
    case "connecting":
      return `Reconnecting (attempt ${state.attempt}${waiting})...${
        lastTry(state.lastError)
      }`;
    case "reconnected":
      return null;
    case "gave_up":
      return `Could not reconnect: ${state.reason}`;
    default: {
      const unreachable: never = state;
      return unreachable;
    }
  }
}

function lastTry(error: string | null): string {
  return error === null ? "" : ` Last try: ${error}`;
}

/**
 * {@linkcode statusLine} made to fit a row `columns` wide, as a terminal
 * shows it: what comes before the last try's error is shortened first
 * (`Retry in 9 s: ...`), and an error still too long is cut after its
 * first sentences or, failing that, between words, never inside one. The
 * whole error is for the scrollback (session_reconnect.ts prints it once).
 */
export function fitStatusLine(
  state: ReconnectState,
  queued: number,
  now: number,
  columns: number,
): string | null {
  const full = statusLine(state, queued, now);
  if (full === null) return null;
  // A row as wide as the screen would wrap: one column is kept free.
  const room = columns - 1;
  if (state.kind !== "waiting" && state.kind !== "connecting") return full;
  const error = state.lastError;
  if (error === null || textColumns(full) <= room) return full;
  const also = queued === 0 ? "" : `; ${queued} queued`;
  const count = queued === 0 ? "" : ` (${queued} queued)`;
  const seconds = state.kind === "waiting" ? secondsLeft(state, now) : 0;
  const leads = state.kind === "waiting"
    ? [
      `Reconnecting in ${seconds} s (attempt ${state.attempt}${also}). Last try: `,
      `Retry in ${seconds} s${count}: `,
    ]
    : [
      `Reconnecting (attempt ${state.attempt}${also})... Last try: `,
      `Retrying${count}: `,
    ];
  for (const lead of leads) {
    if (textColumns(lead + error) <= room) return lead + error;
  }
  const lead = leads.at(-1)!;
  return lead + shortened(error, room - textColumns(lead));
}

function secondsLeft(
  state: Extract<ReconnectState, { kind: "waiting" }>,
  now: number,
): number {
  return Math.max(0, Math.ceil((state.retryAt - now) / 1000));
}

/**
 * `text` in at most `room` columns: its first sentences that fit, else its
 * words that fit and an ellipsis (only the ellipsis on a very narrow row).
 */
function shortened(text: string, room: number): string {
  if (textColumns(text) <= room) return text;
  let sentences = "";
  for (const match of text.matchAll(/[.?!](?= )/g)) {
    const end = text.slice(0, match.index + 1);
    if (textColumns(end) > room) break;
    sentences = end;
  }
  if (sentences !== "") return sentences;
  const words = text.split(" ");
  let out = "";
  for (const word of words) {
    const next = out === "" ? word : `${out} ${word}`;
    if (textColumns(next) + 1 > room) break;
    out = next;
  }
  return `${out}\u2026`;
}

/**
 * The line that stays once the connection ended, on a terminal as in a
 * script's output: why (`Server is shutting down.` when its operator stopped
 * it, `The connection to the server was lost.` when the network or the
 * server went without a word) and that the client reconnects.
 */
export function lostLine(reason: string): string {
  return `${reason} Reconnecting...`;
}

/**
 * For output that cannot be redrawn (a script's stdout): one line per change
 * of state, not per attempt. Attempts that fail the same way as the one
 * before say nothing new; a different failure, the reconnection or giving
 * up does.
 */
export class StateChanges {
  #last: string | null = null;

  /** The line to print for `state`, or null when it says nothing new. */
  line(state: ReconnectState): string | null {
    let line: string | null;
    switch (state.kind) {
      case "lost":
        line = lostLine(state.reason);
        break;
      case "waiting":
      case "connecting":
        line = state.lastError === null
          ? null
          : `Still reconnecting: ${state.lastError}`;
        break;
      case "reconnected":
        line = reconnectedLine(state);
        break;
      case "gave_up":
        line = `Could not reconnect: ${state.reason}`;
        break;
      default: {
        const unreachable: never = state;
        return unreachable;
      }
    }
    if (line === null || line === this.#last) return null;
    this.#last = line;
    return line;
  }
}

/** What says the client is back: where, when it moved, and as whom. */
export function reconnectedLine(
  state: Extract<ReconnectState, { kind: "reconnected" }>,
): string {
  return state.server === undefined
    ? `Reconnected as ${state.name}.`
    : `Reconnected to ${state.server} as ${state.name}.`;
}
