// This module is browser compatible.

/**
 * Where the rows scrolling back loaded go among the web page's log rows.
 * The log is one for every view (row_places.ts), and All shows all of it,
 * so older messages of one conversation must go where they came in time,
 * not above every row: above the rows of other conversations that came
 * after them, below those that came before. The server's message ids say
 * that order: every message it stores gets a greater id than every one
 * stored before it (docs/PROTOCOL.md 5.9), in every conversation and on
 * every node of a cluster, with no clock to trust.
 *
 * @module
 */

/** What the order needs of a row already in the log. */
export interface LogRow {
  /** The id of the message the row shows; undefined for a row of none. */
  id: number | undefined;
  /**
   * Whether the row shows in the view of the conversation the older rows
   * are of: they are older than every such row, so they go above them all.
   */
  inView: boolean;
}

/**
 * For each of the `older` rows (by the id of the message each shows,
 * undefined for none; oldest first), the index in `rows` (the log's rows,
 * top to bottom) of the row it goes before, `rows.length` for after the
 * last. Never below the first row in the conversation's view; above it,
 * before the first row of a later message. A row of no message goes with
 * the message after it (the last one's place when none follows). The
 * places never go down, so putting the rows in order keeps theirs.
 */
export function olderRowPlaces(
  rows: readonly LogRow[],
  older: readonly (number | undefined)[],
): number[] {
  const limit = rows.findIndex((row) => row.inView);
  const end = limit === -1 ? rows.length : limit;
  const places: (number | null)[] = [];
  let at = 0;
  for (const id of older) {
    if (id === undefined) {
      places.push(null);
      continue;
    }
    while (at < end && !later(rows[at]!, id)) at++;
    places.push(at);
  }
  let next = places.findLast((place) => place !== null) ?? end;
  const filled: number[] = [];
  for (let i = places.length - 1; i >= 0; i--) {
    next = places[i] ?? next;
    filled[i] = next;
  }
  return filled;
}

/** Whether `row` shows a message stored after the one with `id`. */
function later(row: LogRow, id: number): boolean {
  return row.id !== undefined && row.id > id;
}
