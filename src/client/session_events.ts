// This module is browser compatible.

/**
 * What a chat session has to tell its user, as typed events: the session
 * emits them, and an output writes them as terminal lines
 * (text_output.ts) or as JSON lines for programs (json_output.ts). Nothing
 * here writes.
 *
 * @module
 */

import type {
  Declined,
  FileOfferNotice,
  ServerMessage,
} from "../protocol/messages.ts";
import type { Command } from "./commands.ts";
import type { E2eLine } from "./e2e_lines.ts";
import type { ReconnectState } from "./reconnect_status.ts";
import type { SentFileOutcome } from "./render.ts";

/**
 * Which command an event answers: the `id` a JSON command carried, else the
 * number of the input line it came from (1 for the first line).
 */
export type Re = number | string;

/** A reply from the server to a request. */
export type ServerReply = Extract<ServerMessage, { re: number | null }>;

export type FileTarget = { to: string } | { group: string };

export type SessionEvent =
  /**
   * How the session is doing (connecting, signed in, a note); `re`: the
   * command it answers, for the lines of one the client answers itself.
   */
  | {
    type: "notice";
    re?: Re;
    text: string;
    /**
     * The text marks the parts a user wrote (render.ts `Style.isolate`,
     * made safe first): the web page's file lines. Shown without the marks
     * where the style does not isolate.
     */
    marked?: true;
  }
  /**
   * Something went wrong; `re` names the command it answers, if any.
   * `code`: a server error code (protocol/messages.ts) or one of the
   * client's: `usage`, `file`, `connection`, `no_such_offer`, `timeout`
   * (answer_within.ts `notAnswered`).
   */
  | {
    type: "error";
    re: Re | null;
    code: string;
    text: string;
    /** As a notice's `marked`: the web page's file lines. */
    marked?: true;
  }
  /**
   * `count` end-to-end messages from `from` (in `group`, or private: null)
   * that a later one of theirs showed were sent, and have not come
   * (unarrived.ts); `text` says so.
   */
  | {
    type: "unarrived";
    from: string;
    group: string | null;
    count: number;
    text: string;
  }
  /** Sent by the server unasked: chat, presence, membership. */
  | { type: "incoming"; message: ServerMessage; text: string }
  /** The server's reply to command `re`. */
  | { type: "reply"; re: Re; command: Command; reply: ServerReply }
  /**
   * `lines`: /help's answer at HELP_COLUMNS (a script's); `topic`: the
   * command asked about, for a terminal to lay the answer out at its width.
   */
  | { type: "help"; re: Re; lines: string[]; topic?: string | undefined }
  /** A line typed while disconnected, kept to be handled once back. */
  | { type: "queued"; re: Re; line: string }
  | { type: "connection"; state: ReconnectState; queued: number }
  /**
   * Someone offers this user a file; `decision`: taken or refused by
   * --accept-files, or to be answered (`ask`).
   */
  | {
    type: "file_offer";
    offer: FileOfferNotice;
    decision: "ask" | "accept" | "decline";
  }
  /** This user's offer is on its way; the recipients are being asked. */
  | {
    type: "file_offering";
    re: Re;
    name: string;
    size: number;
    target: FileTarget;
  }
  | { type: "file_declined"; re: Re; file: string; declined: Declined }
  | {
    type: "file_progress";
    direction: "in" | "out";
    name: string;
    /** The sender (in) or the recipient or group (out). */
    peer: string;
    bytes: number;
    size: number;
    /** Since the rate's measure began, when `fromBytes` had come. */
    elapsedMs: number;
    fromBytes: number;
    /** Which transfer: the offer's number (in) or the command's (out). */
    xfer?: number;
    re?: Re;
  }
  | {
    type: "file_received";
    offer: FileOfferNotice;
    name: string;
    path: string;
  }
  | {
    type: "file_failed";
    offer: FileOfferNotice;
    reason: string;
    /** The sender took the offer back before it began (PROTOCOL 5.6). */
    withdrawn?: true;
  }
  /**
   * `declined`: the recipients who did not take it (a group's members;
   * one person's decline is the offer's refusal), `declinedMore` those the
   * server's reply left out of its list.
   */
  | {
    type: "file_sent";
    re: Re;
    target: FileTarget;
    outcome: SentFileOutcome;
    declined?: readonly Declined[];
    declinedMore?: number;
    /**
     * Not the file's outcome yet: it is to be offered again (its transfer
     * broke, or our connection ended its offer). Neither a terminal nor a
     * program is told anything final, only the notice that it is not sent
     * yet and will be offered again, and no command failed yet.
     */
    again?: true;
    /**
     * The outcome of a file said (with `again`) to be offered again, which
     * then was not, final now: the session `ended` first, or /cancel (or the
     * second /quit's) stopped it (`cancelled`), which a terminal was told
     * then ("Cancelled sending ...").
     */
    held?: "ended" | "cancelled";
  };

export type SessionEventType = SessionEvent["type"];

export interface SessionOutput {
  emit(event: SessionEvent): void;
}

/**
 * Whether every recipient of a file sent got it: none declined it (as one
 * person's decline fails the command), and all who took it received it.
 */
export function allReceived(
  event: Extract<SessionEvent, { type: "file_sent" }>,
): boolean {
  return event.outcome.kind === "finished" &&
    event.outcome.results.every((r) => r.ok) &&
    (event.declined?.length ?? 0) === 0 && (event.declinedMore ?? 0) === 0;
}

/**
 * Whether `event` says a command failed: a script's exit status is not 0
 * after one (issue 15).
 */
export function isFailure(event: SessionEvent): boolean {
  switch (event.type) {
    case "error":
      return event.re !== null;
    case "reply":
      return event.reply.t === "error";
    case "file_sent":
      return event.again !== true && !allReceived(event);
    case "notice":
    case "unarrived":
    case "incoming":
    case "help":
    case "queued":
    case "connection":
    case "file_offer":
    case "file_offering":
    case "file_declined":
    case "file_progress":
    case "file_received":
    case "file_failed":
      return false;
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
}

/**
 * A line E2eSessions or GroupSessions said, as an event: an "e2e" error for
 * an error or a warning, a notice otherwise. `text`: the line's, as the
 * caller made it safe to show.
 */
export function e2eLineEvent(line: E2eLine, text = line.text): SessionEvent {
  return line.kind === "notice"
    ? { type: "notice", text }
    : { type: "error", re: null, code: "e2e", text };
}
