// This module is browser compatible.

/**
 * What a `/history` request's messages came to on the screen. The server's
 * reply counts what it stored, and some of that is not shown: keys that go
 * end to end with group messages (control envelopes, taken by the client),
 * messages this client cannot open, messages from someone ignored. The user
 * is told the number of lines they got, and how many could not be opened.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import { plainHistoryRefusal } from "./plain_messages.ts";
import type { SessionEvent } from "./session_events.ts";

/** One history request's messages, as they were dealt with. */
export interface HistoryCount {
  /** Shown as a line. */
  shown: number;
  /** Could not be opened: an error line says why. */
  unopened: number;
  /** End to end in a group, waiting for its sender key: shown (or refused) later. */
  waiting: number;
  /**
   * The smallest message id among everything that answered it, shown or
   * not (a key, an ignored sender's message): where an older page starts
   * (history_pages.ts). Null until a message with an id came.
   */
  oldest: number | null;
  /**
   * The lines its messages made, held back: a page asked for later holds
   * older messages, and the lines are shown oldest first, once, when the
   * last page has come.
   */
  held: SessionEvent[];
  /**
   * The held errors that refused a plain private message (plain_messages.ts),
   * with the other side's name and the message's time: two or more with
   * the same person are said in one error (`releaseHistory`).
   */
  plain: Map<SessionEvent, { other: string; ts: number }>;
  /**
   * Settles once the held lines were handed on (`releaseHistory`): a
   * message is acknowledged only after its line is out, so a program that
   * is killed meanwhile gets it again.
   */
  released: PromiseWithResolvers<void>;
}

/** An empty count, for a history request whose messages are still to come. */
export function emptyHistoryCount(): HistoryCount {
  return {
    shown: 0,
    unopened: 0,
    waiting: 0,
    oldest: null,
    held: [],
    plain: new Map(),
    released: Promise.withResolvers(),
  };
}

/**
 * Hands on the held lines of `counts`, oldest page (the last asked) first.
 * The plain private messages refused with one person (`holdPlainRefusal`)
 * are one error, where the oldest was, when there are two or more: a
 * conversation that began in the clear is not a screen of errors.
 */
export function releaseHistory(
  counts: readonly HistoryCount[],
  emit: (event: SessionEvent) => void,
): void {
  const oldestFirst = [...counts].reverse();
  const people = new Map<
    string,
    { other: string; n: number; first: number; last: number; at: SessionEvent }
  >();
  for (const count of oldestFirst) {
    for (const event of count.held) {
      const plain = count.plain.get(event);
      if (plain === undefined) continue;
      const person = people.get(nameKey(plain.other));
      if (person === undefined) {
        people.set(nameKey(plain.other), {
          other: plain.other,
          n: 1,
          first: plain.ts,
          last: plain.ts,
          at: event,
        });
      } else {
        person.n++;
        person.first = Math.min(person.first, plain.ts);
        person.last = Math.max(person.last, plain.ts);
      }
    }
  }
  const merged = new Map<SessionEvent, string>();
  for (const person of people.values()) {
    if (person.n < 2) continue;
    merged.set(
      person.at,
      plainHistoryRefusal(person.other, person.n, person.first, person.last),
    );
  }
  for (const count of oldestFirst) {
    for (const event of count.held) {
      const plain = count.plain.get(event);
      const text = merged.get(event);
      if (text !== undefined) {
        emit({ type: "error", re: null, code: "e2e", text });
      } else if (
        plain === undefined || people.get(nameKey(plain.other))!.n < 2
      ) emit(event);
    }
    count.released.resolve();
  }
}

/**
 * Emits (or holds with `count`) `event`, the error that refused a plain
 * private message with `other` sent at `ts` (plain_messages.ts), counted as
 * a message not opened. Held, it may be said with the others like it
 * (`releaseHistory`).
 */
export function emitPlainRefusal(
  emit: (event: SessionEvent) => void,
  event: SessionEvent,
  refused: { other: string | null; ts: number },
  count: HistoryCount | undefined,
): void {
  if (count === undefined) return emit(event);
  count.unopened++;
  count.held.push(event);
  // Without another side (plain_messages.ts plainRefusedWith): said alone.
  const other = refused.other;
  if (other !== null) count.plain.set(event, { other, ts: refused.ts });
}

/**
 * Emits `event` now, or holds it with the history request it answers
 * (`count`), to be shown with the request's other lines.
 */
export function emitOrHold(
  emit: (event: SessionEvent) => void,
  event: SessionEvent,
  count: HistoryCount | undefined,
): void {
  if (count === undefined) emit(event);
  else count.held.push(event);
}

/**
 * Emits (or holds with `count`) the lines that say why an end-to-end item
 * was not shown as a message: those starting `ERROR: ` as errors (code
 * `e2e`), the rest as notices. The caller sanitises them for its screen.
 */
export function emitOpenedLines(
  emit: (event: SessionEvent) => void,
  lines: readonly string[],
  count: HistoryCount | undefined,
): void {
  for (const text of lines) {
    emitOrHold(
      emit,
      text.startsWith("ERROR: ")
        ? { type: "error", re: null, code: "e2e", text }
        : { type: "notice", text },
      count,
    );
  }
}

/**
 * A group message that was not shown: its lines are errors (it cannot be
 * opened) or a notice that it waits for /trust (shown later, as one still
 * waiting for its key is); counted as such in `count`, and emitted. No
 * lines (it came from someone ignored): not counted either, as a private
 * one that says nothing.
 */
export function emitRefusedGroup(
  emit: (event: SessionEvent) => void,
  lines: readonly string[],
  count: HistoryCount | undefined,
): void {
  if (count !== undefined && lines.length > 0) {
    if (lines.some((text) => text.startsWith("ERROR: "))) count.unopened++;
    else count.waiting++;
  }
  emitOpenedLines(emit, lines, count);
}

/** Notes that `id` answered the request counted in `count`. */
export function noteHistoryId(count: HistoryCount, id: number): void {
  if (count.oldest === null || id < count.oldest) count.oldest = id;
}

/**
 * How a /history ended, for its last line: in one reply (a server before
 * `more` tells nothing else, and its own note about the byte cap is kept),
 * or over `pages` replies, having given up (`gaveUp`) before it had the
 * messages wanted although older ones exist (history_pages.ts).
 */
export type HistoryEnd =
  | { kind: "one_reply" }
  | {
    kind: "paged";
    pages: number;
    gaveUp: boolean;
    /**
     * It had the messages wanted and the server said older ones remain:
     * the command that shows more (`/history 60` after `/history 30`), or
     * null when none can ask for more at once (the most already).
     */
    more?: string | null;
  };

/**
 * The counts of the history requests waiting for their reply, by connection
 * (each numbers its requests from 1) and request id.
 */
export class HistoryCounts {
  #counts = new WeakMap<object, Map<number, HistoryCount>>();

  /** The count for request `id` on `connection`, to add to as its messages are dealt with. */
  of(connection: object, id: number): HistoryCount {
    let counts = this.#counts.get(connection);
    if (counts === undefined) {
      counts = new Map();
      this.#counts.set(connection, counts);
    }
    let count = counts.get(id);
    if (count === undefined) {
      count = emptyHistoryCount();
      counts.set(id, count);
    }
    return count;
  }

  /** The count for request `id` on `connection`, forgotten: its reply came. */
  take(connection: object, id: number): HistoryCount {
    const count = this.of(connection, id);
    this.#counts.get(connection)?.delete(id);
    return count;
  }
}

/** The server's wordings (docs/PROTOCOL.md 5.4, `history`). */
const NO_HISTORY = /^No history for (.+)\.$/s;
const END_OF_HISTORY =
  /^End of history for (.+) \(\d+ messages?(; older ones do not fit in one reply)?\)\.$/s;

/**
 * The reply's text with the server's count replaced by `count`. A text in
 * other words than the server's (another server) is left as it is. Paged,
 * the server's note that the byte cap cut its reply no longer holds (the
 * next page went on from there): the note is whether older ones were left.
 */
export function historyReplyText(
  text: string,
  count: Pick<HistoryCount, "shown" | "unopened" | "waiting">,
  end: HistoryEnd = { kind: "one_reply" },
): string {
  const match = END_OF_HISTORY.exec(text);
  // Paged, a first reply with nothing (a group's that stopped looking,
  // docs/PROTOCOL.md 5.4) may be followed by pages that found some.
  const none = match === null && end.kind === "paged"
    ? NO_HISTORY.exec(text)
    : null;
  const what = (match ?? none)?.[1];
  if (what === undefined) return text;
  if (
    none !== null && end.kind === "paged" && !end.gaveUp &&
    count.shown + count.unopened + count.waiting === 0
  ) return text;
  const left = end.kind === "one_reply"
    ? match?.[2]?.slice(2)
    : end.gaveUp
    ? `older ones remain after ${end.pages} request${
      end.pages === 1 ? "" : "s"
    }`
    : end.more === undefined
    ? undefined
    : olderRemain(what, end.more);
  const notes = [
    ...(count.unopened > 0 ? [`${count.unopened} could not be opened`] : []),
    ...(count.waiting > 0
      ? [
        `${count.waiting} still waiting for ${
          count.waiting === 1 ? "its key" : "their keys"
        }`,
      ]
      : []),
    ...(left === undefined ? [] : [left]),
  ];
  return `End of history for ${what} (${count.shown} message${
    count.shown === 1 ? "" : "s"
  }${notes.map((note) => `; ${note}`).join("")}).`;
}

/**
 * The note that older messages remain. A private conversation's older items
 * may all be keys (docs/PROTOCOL.md 5.4: the server cannot tell them from
 * messages, being sealed), so there it says they may; the public room and a
 * group store only messages.
 */
function olderRemain(what: string, command: string | null): string {
  const remain = what.startsWith("your conversation with ")
    ? "older ones may remain"
    : "older ones remain";
  return command === null ? remain : `${remain}: ${command} for more`;
}
