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

/** One history request's messages, as they were dealt with. */
export interface HistoryCount {
  /** Shown as a line. */
  shown: number;
  /** Could not be opened: an error line says why. */
  unopened: number;
  /** End to end in a group, waiting for its sender key: shown (or refused) later. */
  waiting: number;
}

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
      count = { shown: 0, unopened: 0, waiting: 0 };
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

/** The server's wording (docs/PROTOCOL.md 5.4, `history`). */
const END_OF_HISTORY =
  /^End of history for (.+) \(\d+ messages?(; older ones do not fit in one reply)?\)\.$/s;

/**
 * The reply's text with the server's count replaced by `count`. A text in
 * other words than the server's (another server) is left as it is.
 */
export function historyReplyText(text: string, count: HistoryCount): string {
  const match = END_OF_HISTORY.exec(text);
  if (match === null) return text;
  const [, what, cut] = match;
  const notes = [
    ...(count.unopened > 0 ? [`${count.unopened} could not be opened`] : []),
    ...(count.waiting > 0
      ? [
        `${count.waiting} still waiting for ${
          count.waiting === 1 ? "its key" : "their keys"
        }`,
      ]
      : []),
    ...(cut === undefined ? [] : ["older ones do not fit in one reply"]),
  ];
  return `End of history for ${what} (${count.shown} message${
    count.shown === 1 ? "" : "s"
  }${notes.map((note) => `; ${note}`).join("")}).`;
}
