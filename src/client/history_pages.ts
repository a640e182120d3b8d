// This module is browser compatible.

/**
 * How one /history asks the server again, for the terminal and the web
 * page alike. The server picks the last N items it stored, and some of them
 * make no line here (keys that go end to end with group messages, messages
 * from someone ignored), so `/history sophia 2` may show one line although
 * older messages exist. A server that
 * says `more` on its reply (docs/PROTOCOL.md 5.4, `history`) takes a
 * `before` cursor: the client asks for the places still missing, older
 * than the oldest item it got, until it has its N or nothing older is
 * left. A server before `more` never says it, so it is never sent a cursor
 * it would ignore (and answer with the newest items again).
 *
 * @module
 */

import type { Reply, Request } from "./chat_client.ts";
import { historyRequest } from "./command_requests.ts";
import type { Command } from "./commands.ts";
import {
  emptyHistoryCount,
  type HistoryCount,
  type HistoryCounts,
  historyReplyText,
  noteHistoryId,
  releaseHistory,
} from "./history_count.ts";
import { DEFAULT_HISTORY, MAX_HISTORY } from "../protocol/limits.ts";
import type { SessionEvent } from "./session_events.ts";

/**
 * The most requests one /history makes: a conversation of keys alone
 * cannot keep it asking. With at most MAX_HISTORY (500) items a request,
 * that is at most 5,000 items.
 */
export const MAX_HISTORY_PAGES = 10;

/** What to do once a history reply has come. */
export type HistoryStep =
  /** Ask again for `limit` items older than the one with id `before`. */
  | { kind: "ask"; before: number; limit: number }
  /**
   * Stop; `gaveUp`: with fewer than the messages wanted, although older
   * ones exist (the request bound, or no id to start from).
   */
  | { kind: "done"; gaveUp: boolean };

/** What the replies so far came to, summed. */
export function totalCount(
  counts: readonly HistoryCount[],
): Pick<HistoryCount, "shown" | "unopened" | "waiting" | "oldest"> {
  let shown = 0, unopened = 0, waiting = 0;
  let oldest: number | null = null;
  for (const count of counts) {
    shown += count.shown;
    unopened += count.unopened;
    waiting += count.waiting;
    if (count.oldest !== null && (oldest === null || count.oldest < oldest)) {
      oldest = count.oldest;
    }
  }
  return { shown, unopened, waiting, oldest };
}

/**
 * The next step of a /history that wants `wanted` messages, after the
 * replies counted in `counts` (one per request, the last one's reply said
 * `more` or not). A message that could not be opened, or that waits for
 * its key, takes its place as one shown does: it is a message of the
 * conversation, and says so in its own line.
 */
export function nextHistoryStep(
  wanted: number,
  counts: readonly HistoryCount[],
  more: boolean,
): HistoryStep {
  if (!more) return { kind: "done", gaveUp: false };
  const total = totalCount(counts);
  const got = total.shown + total.unopened + total.waiting;
  if (got >= wanted) return { kind: "done", gaveUp: false };
  // No id to start from (a single item past the byte cap): nothing to ask.
  if (total.oldest === null || counts.length >= MAX_HISTORY_PAGES) {
    return { kind: "done", gaveUp: true };
  }
  return { kind: "ask", before: total.oldest, limit: wanted - got };
}

/** What a /history needs of the session that runs it (the terminal's, the web page's). */
export interface HistoryPaging {
  /**
   * Sends a request (again while the server says slow down); resolves with
   * the reply and the connection that numbered it, whose history messages
   * are counted under that number.
   */
  ask: (request: Request) => Promise<{ reply: Reply; asked: object }>;
  /** Settles once what came before a reply (its messages, being opened) is dealt with. */
  settled: () => Promise<void>;
  /** Where the session counts each request's messages as it deals with them. */
  counts: HistoryCounts;
  /**
   * How the command that shows more is written (`/history 40`, a typed
   * line, by default; --json gives its JSON command, `jsonHistoryCommand`).
   */
  moreAs?: (target: string | undefined, limit: number) => string;
}

/** A /history done: its lines to show, then its reply. */
export interface PagedHistory {
  /** Hands every line its messages made to `emit`, oldest first (each page's were held). */
  showLines: (emit: (event: SessionEvent) => void) => void;
  /**
   * To show after them: the end line with what the lines came to (the
   * server counts what it stored; the user is told what they got), or the
   * error that stopped it.
   */
  reply: Reply;
  /**
   * The smallest id among everything that answered (shown or not), or null
   * when nothing with an id came: where a later, older page starts.
   */
  oldest: number | null;
}

/** `/history sophia 40`: the typed command that asks for `limit` messages. */
function typedHistoryCommand(
  target: string | undefined,
  limit: number,
): string {
  return `/history${target === undefined ? "" : ` ${target}`} ${limit}`;
}

/**
 * `{"cmd":"history","target":"sophia","limit":40}`: the --json command
 * that asks for `limit` messages (a program writes commands, not lines).
 */
export function jsonHistoryCommand(
  target: string | undefined,
  limit: number,
): string {
  return JSON.stringify({
    cmd: "history",
    ...(target === undefined ? {} : { target }),
    limit,
  });
}

/** The /history that shows more than `wanted` (twice as many, at most MAX_HISTORY), or null. */
function moreCommand(
  command: Extract<Command, { kind: "history" }>,
  wanted: number,
  moreAs = typedHistoryCommand,
): string | null {
  if (wanted >= MAX_HISTORY) return null;
  return moreAs(command.target, Math.min(wanted * 2, MAX_HISTORY));
}

/**
 * Runs `/history`: one request, and more for older messages while lines
 * are missing and the server says older ones remain. `before`: only
 * messages older than that id, from the first request on (the web page's
 * scroll-back goes on from its oldest message this way); pass it only
 * after a reply that said `more`, as the pages after the first are.
 */
export async function pageHistory(
  command: Extract<Command, { kind: "history" }>,
  paging: HistoryPaging,
  before?: number,
): Promise<PagedHistory> {
  const wanted = command.limit ?? DEFAULT_HISTORY;
  const counts: HistoryCount[] = [];
  let page: { before: number; limit: number } | undefined = before === undefined
    ? undefined
    : { before, limit: wanted };
  let first: Extract<Reply, { t: "ok" }> | null = null;
  const showLines = (emit: (event: SessionEvent) => void) =>
    releaseHistory(counts, emit);
  for (;;) {
    const { reply, asked } = await paging.ask(historyRequest(command, page));
    await paging.settled();
    const count = reply.re === null
      ? emptyHistoryCount()
      : paging.counts.take(asked, reply.re);
    counts.push(count);
    if (reply.t !== "ok") {
      return { showLines, reply, oldest: totalCount(counts).oldest };
    }
    // Where the server stopped looking, below all it sent: the next page
    // (and the web page's next scroll back) starts there.
    if (reply.before !== undefined) noteHistoryId(count, reply.before);
    first ??= reply;
    const step = nextHistoryStep(wanted, counts, reply.more === true);
    if (step.kind === "ask") {
      page = step;
      continue;
    }
    const total = totalCount(counts);
    const text = historyReplyText(
      first.text,
      total,
      first.more === true
        ? {
          kind: "paged",
          pages: counts.length,
          gaveUp: step.gaveUp,
          // Older ones remain past those wanted: said, with how to see
          // them, rather than an end line that reads as the very start.
          ...(reply.more === true && !step.gaveUp
            ? { more: moreCommand(command, wanted, paging.moreAs) }
            : {}),
        }
        : { kind: "one_reply" },
    );
    return {
      showLines,
      reply: {
        t: "ok",
        re: first.re,
        text,
        ...(reply.more === true ? { more: true } : {}),
      },
      oldest: total.oldest,
    };
  }
}
