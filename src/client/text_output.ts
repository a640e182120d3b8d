// This module is browser compatible.

/**
 * Session events as terminal lines, in the seed's wording (render.ts), and
 * whether they are errors: a script reads errors on stderr (issue 15).
 *
 * @module
 */

import { sanitizeForTerminal } from "../text/sanitize.ts";
import { actionOf } from "./actions.ts";
import { HELP_COLUMNS, terminalHelp } from "./commands.ts";
import { HANGING_INDENT, hangingRows, textColumns } from "./input_block.ts";
import { statusLine } from "./reconnect_status.ts";
import {
  asRegistered,
  clockPrefix,
  formatBytes,
  formatProgress,
  MAX_MESSAGE_LINES,
  own,
  renderDeclined,
  renderMarkedError,
  renderSent,
  renderSentFile,
  renderServerMessage,
  type Style,
} from "./render.ts";
import type { SessionEvent } from "./session_events.ts";

export interface TextLines {
  lines: string[];
  /** The lines report a failure: stderr, for a script. */
  error: boolean;
}

/**
 * The lines that show `event`. Connection and progress events give no
 * lines: on a terminal they are a status row (see `statusOf`); a script gets
 * connection changes from the session as notices. `columns`: the
 * terminal's width now, at which a message of several lines shows at most
 * MAX_MESSAGE_LINES rows (`terminalBreaks`).
 */
export function textOf(
  event: SessionEvent,
  style: Style,
  columns = Infinity,
): TextLines {
  const out = (lines: string[], error = false) => ({ lines, error });
  switch (event.type) {
    case "unarrived":
      return out([event.text]);
    case "notice":
      // Marks only the page asks for (session_events.ts `marked`).
      return out([
        event.marked === true && style.isolate !== true
          ? event.text.replace(/[\u2068\u2069]/g, "")
          : event.text,
      ]);
    case "error":
      if (event.marked === true) {
        return out([renderMarkedError(event.text, style)], true);
      }
      return out(
        renderServerMessage(
          { t: "error", re: null, code: "internal", text: event.text },
          "",
          style,
        ),
        true,
      );
    case "incoming": {
      const { message } = event;
      const lines = renderServerMessage(message, event.text, style);
      const past = "history" in message && message.history === true;
      const stamp = style.clock === true && !past
        ? clockPrefix("ts" in message ? message.ts : Date.now())
        : "";
      return out(
        lines.map((line) =>
          capRows(setIn(stamp + line, event.text, style), event.text, {
            style,
            columns,
          })
        ),
        message.t === "error",
      );
    }
    case "reply": {
      const { command, reply } = event;
      const sent = command.kind === "say" || command.kind === "msg" ||
        command.kind === "gsay";
      if (reply.t === "ok" && sent) {
        // Stored now, as far as this client can tell: the reply has no time.
        const stamp = style.clock === true && style.clockSent === true
          ? clockPrefix(Date.now())
          : "";
        // The server may add a note, e.g. that the recipient is offline.
        return out([
          ...renderSent(asRegistered(command, reply.name), style).map((
            line,
          ) =>
            capRows(setIn(stamp + line, command.text, style), command.text, {
              style,
              columns,
            })
          ),
          ...(reply.text ? [sanitizeForTerminal(reply.text)] : []),
        ]);
      }
      return out(renderServerMessage(reply, "", style), reply.t === "error");
    }
    case "help":
      // At the terminal's width when it is narrower than the lines were
      // laid out for: two columns of 75 characters wrapped at 40 read as
      // one list in a jumbled order (/msg, /transfers, /group, ...).
      return out(
        Number.isFinite(columns) && columns < HELP_COLUMNS
          ? terminalHelp(event.topic, columns)
          : event.lines,
      );
    case "queued":
      return out([`(queued) ${sanitizeForTerminal(event.line)}`]);
    case "connection":
      return out([]);
    case "file_offer":
      // Asked about or decided by the consent code, which says so.
      return out([]);
    case "file_offering":
      return out([
        `Offering ${own(style, sanitizeForTerminal(event.name))} (${
          formatBytes(event.size)
        }) to ${
          "to" in event.target
            ? own(style, sanitizeForTerminal(event.target.to))
            : `group ${own(style, sanitizeForTerminal(event.target.group))}`
        }; waiting for an answer.`,
      ]);
    case "file_declined":
      return out([renderDeclined(event.declined, event.file, style)]);
    case "file_progress":
      return out([]);
    case "file_received":
    case "file_failed":
      // The receiver prints these in its own words (file_receiver.ts).
      return out([]);
    case "file_sent":
      // Not its outcome yet: the notice that follows says it will be
      // offered again (an ERROR here said it was lost, then the notice that
      // it was not). Nor is one /cancel stopped, said then.
      if (event.again === true || event.held === "cancelled") return out([]);
      return out(
        renderSentFile(event.outcome, event.target, style),
        event.outcome.kind !== "finished" ||
          event.outcome.results.some((r) => !r.ok),
      );
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
}

/**
 * Columns a message's further lines are set in by at most: beyond, under
 * the text of a long first line ("[history ...] Private message from ... to
 * ...: ") would leave them too little room.
 */
export const MAX_BREAK_INDENT = 40;

/**
 * `line` (a message rendered with the terminal's `lineBreaks`, whose text
 * is `body`) with the lines after its first set in under the start of its
 * text, as the web page's rows set them in: no line of a message starts at
 * the left edge, where it would pass for a line of the log. Any other line
 * is returned as it is.
 */
function setIn(line: string, body: string, style: Style): string {
  const end = line.indexOf("\n");
  if (style.terminalBreaks !== true || end === -1) return line;
  // The text's first line as rendered (mentions highlighted take no room).
  const first = sanitizeForTerminal(
    (actionOf(body) ?? body).split(/\r?\n/)[0]!,
  );
  const column = Math.max(
    HANGING_INDENT,
    Math.min(
      MAX_BREAK_INDENT,
      textColumns(line.slice(0, end)) - textColumns(first),
    ),
  );
  return line.replaceAll("\n", `\n${" ".repeat(column)}`);
}

/**
 * `line` (a message of several lines, set in: `setIn`, whose text is
 * `body`) cut to at most MAX_MESSAGE_LINES rows at `columns`, as the
 * terminal lays it out (hangingRows): ten lines of 300 characters each
 * would otherwise fill the screen as the 500 short lines the line cap
 * (render.ts) is for. Its first lines, then "(... N more lines)" on the
 * last row; the first line is always shown. Any other line is returned as
 * it is.
 */
function capRows(
  line: string,
  body: string,
  { style, columns }: { style: Style; columns: number },
): string {
  if (style.terminalBreaks !== true || !Number.isFinite(columns)) return line;
  const pieces = line.split("\n");
  const total = (actionOf(body) ?? body).split(/\r?\n/).length;
  // The body's lines as rendered, less the count render.ts put last.
  const shown = total > MAX_MESSAGE_LINES ? MAX_MESSAGE_LINES - 1 : total;
  if (
    pieces.length < 2 || pieces.length !== Math.min(total, MAX_MESSAGE_LINES)
  ) {
    return line;
  }
  const rows = (count: number) =>
    hangingRows(pieces.slice(0, count).join("\n"), columns).split("\n")
      .length;
  if (rows(pieces.length) <= MAX_MESSAGE_LINES) return line;
  // The most lines that leave a row for the count.
  let kept = shown;
  while (kept > 1 && rows(kept) > MAX_MESSAGE_LINES - 1) kept--;
  const indent = /^ */.exec(pieces[1]!)![0];
  // A colour a cut line began ends before the count.
  const reset = style.color ? "\x1b[0m" : "";
  return `${pieces.slice(0, kept).join("\n")}${reset}\n${indent}(... ${
    total - kept
  } more lines)`;
}

/** The status row for a progress or connection event; null for others. */
export function statusOf(event: SessionEvent, now: number): string | null {
  switch (event.type) {
    case "connection":
      return statusLine(event.state, event.queued, now);
    case "file_progress":
      return formatProgress(
        `${event.name} ${
          event.direction === "in" ? "from" : "to"
        } ${event.peer}`,
        event.bytes,
        event.size,
        event.elapsedMs,
        event.fromBytes,
      );
    default:
      return null;
  }
}
