// This module is browser compatible.

/**
 * What the user sees: server messages and the sender's own confirmations as
 * terminal lines, in the seed's wording. Every string that came from the
 * network goes through {@linkcode sanitizeForTerminal}; nothing here writes.
 *
 * @module
 */

import type { Declined, ServerMessage } from "../protocol/messages.ts";
import { nameKey } from "../protocol/limits.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import type { Command } from "./commands.ts";
import { actionOf } from "./actions.ts";
import { highlightMentions, mentions } from "./mentions.ts";
import { compareNames, sortedNames } from "./name_order.ts";

export interface Style {
  /** Use ANSI SGR colours; when false, lines are plain text. */
  color: boolean;
  /** Ring the terminal bell on a private message or a mention. */
  bell?: boolean;
  /** The reader's name: `@name` mentions of it are highlighted, and ring. */
  self?: string;
  /**
   * The last message id of `self` sent by another key, before a release
   * gave the name to this one (the welcome's `own_after`): history shows
   * those as someone else's lines. 0 or absent: every one is the reader's.
   */
  ownAfter?: number;
  /** `[HH:MM]` before each live received line (a terminal without --no-time). */
  clock?: boolean;
  /**
   * With `clock`, `[HH:MM]` before the confirmation of a message this user
   * sent too, as its time: the web page, whose log shows a message's time
   * for others' lines and for one's own alike. (A terminal's own line shows
   * where it was typed, as the seed's.)
   */
  clockSent?: boolean;
  /**
   * Whether a user's identity key is verified (/verify), for /list: null
   * when nothing is known (e2e_sessions.ts).
   */
  verification?: (
    name: string,
    fingerprint: string | undefined,
  ) => "verified" | "unverified" | "changed" | null;
  /**
   * Keeps the line breaks of a message's text as `\n`, each line made safe
   * on its own: for a reader that shows them as the lines of one entry (the
   * web page, whose rows indent all but their first line). Otherwise a break
   * shows as `^J`, as any control character: a terminal line must stay one.
   */
  lineBreaks?: boolean;
  /**
   * With `lineBreaks`, the terminal's way (text_output.ts sets the lines
   * after the first in under the message's text): a message shows at most
   * {@linkcode MAX_MESSAGE_LINES} lines, the last saying how many more there
   * were, so a message of 500 short lines cannot flood the screen (nor one
   * of long lines: text_output.ts cuts it to as many rows at the
   * terminal's width).
   */
  terminalBreaks?: boolean;
  /**
   * Marks each part a user wrote (a name, a group's name, a message's text)
   * with FSI before it and PDI after it (U+2068, U+2069): for a reader that
   * shows each as a run of its own for the bidi algorithm (the web page's
   * `<bdi>`, log_view.ts), so that right-to-left text neither takes the
   * line's wording into its order nor ends on the wrong side. Made safe,
   * such parts hold no FSI or PDI of their own (they show as `<U+2068>`):
   * these marks are the only ones.
   */
  isolate?: boolean;
}

/**
 * The lines a message shows at most on a terminal (`terminalBreaks`): its first
 * lines, then "(... N more lines)" in place of the rest.
 */
export const MAX_MESSAGE_LINES = 10;

// Not verified is the usual case, and says nothing: the seed's /list stays.
const VERIFICATION_TEXT = {
  verified: " - verified",
  unverified: "",
  changed: " - KEY CHANGED since verified",
} as const;

function verificationOf(
  style: Style,
  name: string,
  fingerprint: string | undefined,
): string {
  const state = style.verification?.(name, fingerprint) ?? null;
  return state === null ? "" : VERIFICATION_TEXT[state];
}

/** The seed's input prompt. */
export const PROMPT = "Enter message to send (or 'quit' to quit): ";

/** The commands whose sending the user sees confirmed. */
export type SentCommand = Extract<Command, { kind: "say" | "msg" | "gsay" }>;

// SGR parameters. Each painted piece ends with a full reset, so pieces never
// depend on what was painted before them.
const BOLD_NAME = "1;36";
const BOLD_GROUP = "1;33";
const PRIVATE = "35";
const PRIVATE_NAME = "1;35";
const DIM = "2";
const DIM_NAME = "2;36";
const DIM_GROUP = "2;33";
const ERROR = "31";
const SUCCESS = "32";
const NOTICE = "33";

/** A piece of a line: plain text, or `[sgr, text]` to paint it. */
type Piece = string | readonly [sgr: string, text: string];

function line(style: Style, ...pieces: Piece[]): string {
  let out = "";
  for (const piece of pieces) {
    if (typeof piece === "string") out += piece;
    else if (style.color && piece[1] !== "") {
      out += `\x1b[${piece[0]}m${piece[1]}\x1b[0m`;
    } else out += piece[1];
  }
  return out;
}

const safe = sanitizeForTerminal;

/** First strong isolate and pop directional isolate (see `Style.isolate`). */
export const FSI = "\u2068";
export const PDI = "\u2069";

/**
 * An error line the client says itself whose parts a user wrote are
 * marked (made safe first: session_events.ts `marked`): the marks kept
 * when `style` isolates them (the web page), dropped otherwise; the text
 * between them made safe as any error's.
 */
export function renderMarkedError(text: string, style: Style): string {
  const shown = style.isolate === true
    ? text
    : text.replace(/[\u2068\u2069]/g, "");
  return line(style, [
    ERROR,
    shown.split(/([\u2068\u2069])/).map((piece) =>
      piece === FSI || piece === PDI ? piece : safe(piece)
    ).join(""),
  ]);
}

/**
 * `text`, a part a user wrote (made safe), marked as a run of its own when
 * `style` isolates them (the web page); as it is otherwise.
 */
export function own(style: Pick<Style, "isolate">, text: string): string {
  return style.isolate === true && text !== "" ? FSI + text + PDI : text;
}

/**
 * A message's text made safe: its line breaks (`\n`, `\r\n`) kept as `\n`
 * when the style keeps them (`lineBreaks`), each line made safe.
 */
function bodyText(text: string, style: Style): string {
  if (style.lineBreaks !== true) return safe(text);
  const lines = text.split(/\r?\n/);
  if (style.terminalBreaks === true && lines.length > MAX_MESSAGE_LINES) {
    const shown = lines.slice(0, MAX_MESSAGE_LINES - 1);
    const more = lines.length - shown.length;
    return [...shown.map(safe), `(... ${more} more lines)`].join("\n");
  }
  return lines.map(safe).join("\n");
}

/** Someone's text made safe, with mentions of the reader highlighted. */
function said(text: string, style: Style): string {
  const shown = bodyText(text, style);
  return own(
    style,
    style.self === undefined
      ? shown
      : highlightMentions(shown, style.self, style.color),
  );
}

/** The bell for a live private message or a live mention of the reader. */
function ring(
  msg: { t: string; history?: true },
  body: string,
  style: Style,
): string {
  if (!style.bell || msg.history) return "";
  const mentioned = style.self !== undefined && mentions(body, style.self);
  return msg.t === "private" || mentioned ? "\x07" : "";
}

/**
 * Whether `msg`, from the reader's name, was sent by the reader's key: not
 * one of that name's messages from before its release (`ownAfter`), which
 * another key sent (docs/PROTOCOL.md 5.3, `own_after`).
 */
function sentByReader(
  msg: { from: string; id?: number },
  style: Style,
): boolean {
  if (style.self === undefined || nameKey(msg.from) !== nameKey(style.self)) {
    return false;
  }
  const after = style.ownAfter ?? 0;
  return after === 0 || (msg.id !== undefined && msg.id > after);
}

/** A public or group message this user sent, shown again by history. */
function ownInHistory(
  msg: Extract<ServerMessage, { t: "public" | "group" }>,
  style: Style,
): boolean {
  return msg.history === true && sentByReader(msg, style);
}

/** Whether `msg`'s body is text to show: public, private and group messages. */
export function hasTextBody(msg: ServerMessage): boolean {
  return msg.t === "public" || msg.t === "private" || msg.t === "group";
}

/**
 * `users` in the order of their names (name_order.ts: `alice`, `Bob`,
 * `bot2`, `bot10`):
 * the server lists them in the order they signed in, which changes with
 * every reconnection, so a name was never where it was the last time.
 */
export function byName<T extends { name: string }>(users: readonly T[]): T[] {
  return [...users].sort((a, b) => compareNames(a.name, b.name));
}

/**
 * The lines that show `msg`; `body` is its decoded text (see
 * {@link hasTextBody}), ignored for the others.
 */
export function renderServerMessage(
  msg: ServerMessage,
  body: string,
  style: Style,
): string[] {
  switch (msg.t) {
    case "public": {
      // One this user sent, shown again by history: worded as its sending
      // was ("Broadcast message sent: hi"), as the seed shows the sender
      // its own line, not "[Broadcast from nana]" as the others see it.
      if (ownInHistory(msg, style)) {
        return renderSent({ kind: "say", text: body }, style).map((sent) =>
          past(msg, style) + sent
        );
      }
      const action = actionOf(body);
      return [
        past(msg, style) + (action === null
          ? line(
            style,
            "[Broadcast from ",
            [BOLD_NAME, own(style, safe(msg.from))],
            "]: ",
            said(body, style),
          )
          : line(
            style,
            "* ",
            [BOLD_NAME, own(style, safe(msg.from))],
            " ",
            said(action, style),
          )) +
        ring(msg, body, style),
      ];
    }
    case "private": {
      // One this user sent (history gives `to` only then): worded as its
      // sending was ("Private message to jojo: hi"), not "from nana to jojo".
      if (msg.to !== undefined && sentByReader(msg, style)) {
        const to = msg.to;
        return renderSent({ kind: "msg", to, text: body }, style).map((
          sent,
        ) => past(msg, style) + sent);
      }
      const action = actionOf(body);
      return [
        past(msg, style) + line(
          style,
          [PRIVATE, action === null ? "Private message from " : "Private: "],
          ...(action === null ? [] : [[PRIVATE, "* "]] as const),
          [PRIVATE_NAME, own(style, safe(msg.from))],
          // In history, a message may be one this user sent.
          ...(msg.to === undefined ? [] : [[PRIVATE, " to "], [
            PRIVATE_NAME,
            own(style, safe(msg.to)),
          ]] as const),
          [
            PRIVATE,
            (action === null ? ": " : " ") + said(action ?? body, style),
          ],
        ) + ring(msg, body, style),
      ];
    }
    case "group": {
      // One this user sent, shown again by history: as its sending was.
      if (ownInHistory(msg, style)) {
        return renderSent({ kind: "gsay", group: msg.group, text: body }, style)
          .map((sent) => past(msg, style) + sent);
      }
      const action = actionOf(body);
      return [
        past(msg, style) + (action === null
          ? line(
            style,
            "[Receive group ",
            [BOLD_GROUP, own(style, safe(msg.group))],
            " message from ",
            [BOLD_NAME, own(style, safe(msg.from))],
            "]: ",
            said(body, style),
          )
          : line(
            style,
            "[",
            [BOLD_GROUP, own(style, safe(msg.group))],
            "] * ",
            [BOLD_NAME, own(style, safe(msg.from))],
            " ",
            said(action, style),
          )) +
        ring(msg, body, style),
      ];
    }
    case "welcome":
    case "ok":
      return [line(style, [SUCCESS, safe(msg.text)])];
    case "error":
      return [line(style, [ERROR, safe(msg.text)])];
    case "bye":
      return [line(style, [NOTICE, safe(msg.text)])];
    case "users":
      if (msg.users.length === 0) {
        return [line(style, [DIM, "No users online"])];
      }
      return [
        ...byName(msg.users).map((user) =>
          line(
            style,
            [DIM, "*** "],
            [BOLD_NAME, safe(user.name)],
            [
              DIM,
              ` - Last Message: ${
                user.lastMessageAt === null
                  ? "never"
                  : formatTimestamp(user.lastMessageAt)
              }${user.away === undefined ? "" : ` - away: ${safe(user.away)}`}${
                verificationOf(style, user.name, user.fingerprint)
              } ***`,
            ],
          )
        ),
        ...andMore(msg.more, "user", style),
      ];
    case "groups": {
      if (msg.groups.length === 0) {
        return [
          line(style, "No groups yet. Create one with /create <groupname>"),
        ];
      }
      const pieces: Piece[] = ["Groups: "];
      byName(msg.groups).forEach((group, i) => {
        if (i > 0) pieces.push(", ");
        pieces.push(
          [BOLD_GROUP, safe(group.name)],
          [
            DIM,
            ` (${safe(String(group.members))} ${
              group.members === 1 ? "member" : "members"
            })`,
          ],
        );
      });
      return [line(style, ...pieces), ...andMore(msg.more, "group", style)];
    }
    case "members": {
      if (msg.groups.length === 0) {
        return [line(
          style,
          "You are not in any group. Join one with /join <groupname>",
        )];
      }
      return [...msg.groups].sort((a, b) => compareNames(a.group, b.group)).map(
        (group) => {
          const online = new Set(group.online.map(nameKey));
          const pieces: Piece[] = [
            "Members of ",
            [BOLD_GROUP, safe(group.group)],
            ": ",
          ];
          if (group.members.length === 0) pieces.push([DIM, "(none)"]);
          sortedNames(group.members).forEach((member, i) => {
            if (i > 0) pieces.push(", ");
            if (online.has(nameKey(member))) {
              pieces.push([BOLD_NAME, safe(member)]);
            } else {
              pieces.push([DIM, `${safe(member)} (offline)`]);
            }
          });
          if (group.more !== undefined) {
            pieces.push([DIM, ` and ${group.more} more`]);
          }
          return line(style, ...pieces);
        },
      ).concat(andMore(msg.more, "group", style));
    }
    case "presence":
      return [line(
        style,
        [DIM, "*** "],
        [DIM_NAME, own(style, safe(msg.name))],
        [DIM, ` ${msg.online ? "joined" : "left"} the chat ***`],
      )];
    case "membership":
      return [line(
        style,
        [DIM, "*** "],
        [DIM_NAME, own(style, safe(msg.name))],
        [DIM, ` ${msg.joined ? "joined" : "left"} group `],
        [DIM_GROUP, own(style, safe(msg.group))],
        [DIM, " ***"],
      )];
    case "pong":
    case "alive":
    case "challenge":
    // End-to-end keys are plumbing for the session's own use.
    case "e2e_keys":
    case "e2e_bundle":
    // Shown once opened, as the private or group message inside
    // (e2e_sessions.ts, group_sessions.ts).
    case "e2e_private":
    case "e2e_group":
      return [];
    case "file_ready":
    case "file_progress":
    case "file_result":
    case "file_offer":
    case "file_chunk":
    case "file_end":
    case "file_cancel":
      // File transfer events need the transfer's context (names, paths,
      // recipients): the transfer code renders them with renderFileEvent.
      return [];
    default: {
      const unreachable: never = msg;
      throw new TypeError(
        `Unknown server message: ${(unreachable as { t: unknown }).t}`,
      );
    }
  }
}

/**
 * `cmd` naming its recipient or group as the server's `ok` spells it
 * (`name`): "/msg NANA hi" is confirmed as to nana. A name that is not the
 * one typed, ignoring case, is not taken: the server cannot pass the message
 * off as sent to someone else.
 */
export function asRegistered(
  cmd: SentCommand,
  name: string | undefined,
): SentCommand {
  if (name === undefined) return cmd;
  switch (cmd.kind) {
    case "say":
      return cmd;
    case "msg":
      return nameKey(name) === nameKey(cmd.to) ? { ...cmd, to: name } : cmd;
    case "gsay":
      return nameKey(name) === nameKey(cmd.group)
        ? { ...cmd, group: name }
        : cmd;
    default: {
      const unreachable: never = cmd;
      return unreachable;
    }
  }
}

/** The sender's confirmation of a message they sent, in the seed's wording. */
export function renderSent(cmd: SentCommand, style: Style): string[] {
  const action = actionOf(cmd.text);
  if (action !== null) {
    const where = cmd.kind === "say"
      ? "Action sent: "
      : cmd.kind === "msg"
      ? `Private action to ${own(style, safe(cmd.to))}: `
      : `Group action to ${own(style, safe(cmd.group))}: `;
    return [line(
      style,
      [DIM, where],
      `* ${own(style, safe(style.self ?? "you"))} ${
        own(style, bodyText(action, style))
      }`,
    )];
  }
  switch (cmd.kind) {
    case "say":
      return [
        line(
          style,
          [DIM, "Broadcast message sent: "],
          own(style, bodyText(cmd.text, style)),
        ),
      ];
    case "msg":
      return [line(
        style,
        [PRIVATE, "Private message to "],
        [PRIVATE_NAME, own(style, safe(cmd.to))],
        [PRIVATE, ": " + own(style, bodyText(cmd.text, style))],
      )];
    case "gsay":
      return [line(
        style,
        [DIM, "Group message to "],
        [BOLD_GROUP, own(style, safe(cmd.group))],
        [DIM, ": "],
        own(style, bodyText(cmd.text, style)),
      )];
    default: {
      const unreachable: never = cmd;
      throw new TypeError(
        `Unknown sent command: ${(unreachable as { kind: unknown }).kind}`,
      );
    }
  }
}

/**
 * What a list says of the entries the server left out, as `/list` and the web
 * page's people list end: "... and 1 more user", "... and 12 more users".
 */
export function leftOut(more: number, what: "user" | "group"): string {
  return `... and ${more} more ${what}${more === 1 ? "" : "s"}`;
}

/** The line for list entries the server left out. */
function andMore(
  more: number | undefined,
  what: "user" | "group",
  style: Style,
): string[] {
  return more === undefined ? [] : [line(style, [DIM, leftOut(more, what)])];
}

/** Messages from history say when they were sent. */
function past(msg: { ts: number; history?: true }, style: Style): string {
  return msg.history
    ? line(style, [DIM, `[history ${formatTimestamp(msg.ts)}] `])
    : "";
}

/**
 * `[HH:MM] `: local time in front of a received line (`--no-time` hides it),
 * `[--:--] ` if `ms` is not a valid time (it came from the network).
 */
export function clockPrefix(ms: number): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return "[--:--] ";
  const two = (n: number) => String(n).padStart(2, "0");
  return `[${two(date.getHours())}:${two(date.getMinutes())}] `;
}

/**
 * `ms` (Unix epoch milliseconds) as local time `YYYY-MM-DD HH:MM:SS`, or
 * `unknown` if it is not a valid time (it came from the network).
 */
export function formatTimestamp(ms: number): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return "unknown";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${String(date.getFullYear()).padStart(4, "0")}-${
    two(date.getMonth() + 1)
  }-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${
    two(date.getSeconds())
  }`;
}

/** One recipient's verdict on a file. */
export interface RecipientResult {
  name: string;
  ok: boolean;
  reason: string;
  /** It disconnected: offering the file again may resume it. */
  resumable?: boolean;
}

/**
 * `named` (the results of the recipients `file_ready` named), then the
 * results in `all` of those it left out (`accepted_more`: its header has a
 * size limit), in the order they came.
 */
export function withUnnamed(
  named: RecipientResult[],
  all: Map<string, RecipientResult>,
): RecipientResult[] {
  const seen = new Set(named.map((r) => r.name));
  return [...named, ...[...all.values()].filter((r) => !seen.has(r.name))];
}

/** What became of a file this user sent. */
export type SentFileOutcome =
  /** Nothing was sent: a local problem or the server said no. */
  | { kind: "refused"; text: string; code?: string }
  /** The transfer ended early for everyone. */
  | {
    kind: "cancelled";
    name: string;
    reason: string;
    results: RecipientResult[];
    /** Our connection was lost: offering it again may resume it. */
    broken?: boolean;
    /**
     * This user stopped it (/cancel), and was told so then ("Cancelled
     * sending ..."): it is not said again as an error.
     */
    byYou?: true;
    /** Its SHA-256 (hex), when its end went out (FileSender `whole`). */
    sha256?: string;
  }
  /** Every recipient reported, successfully or not. */
  | {
    kind: "finished";
    name: string;
    /** Its size when offered: what the recipients got. */
    size: number;
    results: RecipientResult[];
    /** Its size once sent, when it changed meanwhile (another program wrote to it). */
    sizeNow?: number;
    /** Its SHA-256 (hex), when its end went out (FileSender `whole`). */
    sha256?: string;
  };

/**
 * The line for the recipients who did not take a file beyond those the
 * server's reply named (`declined_more`: its header has a size limit).
 */
export function declinedMoreLine(
  more: number,
  file: string,
  style: Pick<Style, "isolate"> = {},
): string {
  return `${more} more did not take ${
    own(style, sanitizeForTerminal(file))
  } (the server's reply named only the first).`;
}

/**
 * One line for a recipient that did not take a file: `jojo declined
 * big.bin.`, `jojo did not answer about big.bin.`, or the reason given
 * (the recipient's words, a run of its own when `style` isolates).
 */
export function renderDeclined(
  declined: Declined,
  file: string,
  style: Pick<Style, "isolate"> = {},
): string {
  const name = own(style, sanitizeForTerminal(declined.name));
  const shown = own(style, sanitizeForTerminal(file));
  switch (declined.reason) {
    case "declined":
      return `${name} declined ${shown}.`;
    case "did not answer":
      return `${name} did not answer about ${shown}.`;
    default:
      // The reason is the recipient's words (file_cancel): a run of its
      // own, as the names are.
      return `${shown} was not sent to ${name}: ${
        own(style, sanitizeForTerminal(declined.reason))
      }`;
  }
}

/**
 * The lines for a file sent, once it ended: `File big.bin sent to jojo
 * successfully.`, or what went wrong. The file's name and each recipient's
 * or group's a run of its own when `style` isolates them (the web page).
 */
export function renderSentFile(
  outcome: SentFileOutcome,
  target: { to: string } | { group: string },
  style: Pick<Style, "isolate"> = {},
): string[] {
  if (outcome.kind === "refused") return [sanitizeForTerminal(outcome.text)];
  const name = own(style, sanitizeForTerminal(outcome.name));
  const failed = outcome.results.filter((r) => !r.ok);
  const lines = failed.map((r) =>
    `ERROR: File ${name} was not received by ${
      own(style, sanitizeForTerminal(r.name))
    }: ${
      r.reason === ""
        ? "no reason given"
        : own(style, sanitizeForTerminal(r.reason))
    }`
  );
  if (outcome.kind === "cancelled") {
    const others = lines.filter((_, i) => failed[i]!.reason !== outcome.reason);
    if (outcome.byYou === true) return others;
    return [
      `ERROR: Sending file ${name} stopped: ${
        sanitizeForTerminal(outcome.reason)
      }`,
      ...others,
    ];
  }
  const received = outcome.results.filter((r) => r.ok).map((r) =>
    own(style, sanitizeForTerminal(r.name))
  );
  const who = "to" in target ? received[0] : "they";
  // Grown, they got its start; shrunk after all of it was read (a file that
  // shrank before stops: "it got shorter"), they got all of it as offered.
  // Both say the size then and now.
  const changed = outcome.sizeNow === undefined || received.length === 0
    ? []
    : outcome.sizeNow < outcome.size
    ? [
      `${name} got shorter while it was being sent, after all of it was read: ${who} got all ${
        formatBytes(outcome.size)
      } (its size when offered); it is ${formatBytes(outcome.sizeNow)} now.`,
    ]
    : [
      `${name} changed while it was being sent: ${who} got the first ${
        formatBytes(outcome.size)
      } (its size when offered); it is ${formatBytes(outcome.sizeNow)} now.`,
    ];
  if ("to" in target) {
    return received.length > 0
      ? [`File ${name} sent to ${received[0]} successfully.`, ...changed]
      : lines;
  }
  const group = own(style, sanitizeForTerminal(target.group));
  return [
    received.length > 0
      ? `File ${name} sent to group ${group}: received by ${
        received.join(", ")
      }.`
      : `File ${name} was not received by anyone in group ${group}.`,
    ...changed,
    ...lines,
  ];
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * How far a file that resumes had come: "7.0 MiB of 12.0 MiB", in the
 * sizes every other file line uses.
 */
export function resumedPart(offset: number, size: number): string {
  return `${formatBytes(offset)} of ${formatBytes(size)}`;
}

/**
 * A finished transfer's row, in the words the terminal says it with ("You
 * received file …", "File … sent to …"): no rate, no time left.
 */
export function formatTransferDone(
  label: string,
  size: number,
  finished: "received" | "sent",
): string {
  return `${sanitizeForTerminal(label)}: ${formatBytes(size)} ${finished}`;
}

/**
 * A transfer's row once it stopped short (`why`: "you cancelled it", the
 * sender's reason): where it got to, with no rate and no time left.
 */
export function formatTransferStopped(
  label: string,
  done: number,
  total: number,
  why: string,
): string {
  return `${sanitizeForTerminal(label)}: stopped at ${formatBytes(done)} of ${
    formatBytes(total)
  } (${sanitizeForTerminal(why)})`;
}

/**
 * One transfer's progress: bytes, percent, rate and time left. The rate is
 * of the bytes moved in `elapsedMs`: those past `from` (what was already
 * there when the measure began, a resumed file's first part say).
 */
export function formatProgress(
  label: string,
  done: number,
  total: number,
  elapsedMs: number,
  from = 0,
): string {
  const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
  const shown = `${sanitizeForTerminal(label)} ${formatBytes(done)}/${
    formatBytes(total)
  } ${percent}%`;
  // No time measured yet (a small file on the page is through within the
  // millisecond): no rate, rather than "0 B/s" beside 100%.
  if (elapsedMs <= 0) return shown;
  const rate = (done - from) / (elapsedMs / 1000);
  const left = rate > 0 ? Math.ceil((total - done) / rate) : null;
  return `${shown} ${formatBytes(Math.round(rate))}/s${
    left === null ? "" : ` ${left}s left`
  }`;
}
