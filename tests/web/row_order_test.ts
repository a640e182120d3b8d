import assert from "node:assert/strict";
import { type LogRow, olderRowPlaces } from "../../src/web/row_order.ts";

/** A row of another conversation (hidden in the one scrolled back). */
const other = (id?: number): LogRow => ({ id, inView: false });
/** A row in the view of the conversation scrolled back. */
const shown = (id?: number): LogRow => ({ id, inView: true });

Deno.test("olderRowPlaces puts older rows among the other conversations' rows by id, above the first row of their own view", () => {
  // A person's messages 5 and 20 were loaded before; the room's 10-14 and
  // 25 come now, older than the room's first row shown (30).
  const rows = [other(5), other(20), shown(30), other(31), shown(32)];
  assert.deepEqual(
    olderRowPlaces(rows, [10, 11, 14, 25]),
    [1, 1, 1, 2],
  );
});

Deno.test("olderRowPlaces never puts an older row below the first row of its view, whatever its id", () => {
  // A row in view with a smaller id (a /history typed there) still bounds
  // them: what the reader scrolls back to is above what they see.
  const rows = [other(50), shown(3), other(60)];
  assert.deepEqual(olderRowPlaces(rows, [40, 55, 70]), [0, 1, 1]);
  // A row in every view (a line about the connection) bounds them too.
  assert.deepEqual(olderRowPlaces([shown(), other(9)], [8]), [0]);
});

Deno.test("olderRowPlaces goes to the end when no row is in view and every id is older", () => {
  assert.deepEqual(olderRowPlaces([], [1, 2]), [0, 0]);
  assert.deepEqual(olderRowPlaces([other(1), other(2)], [7, 8]), [2, 2]);
});

Deno.test("olderRowPlaces steps over rows of no message: a row goes before the first later message", () => {
  const rows = [other(5), other(), other(20), shown()];
  assert.deepEqual(olderRowPlaces(rows, [6, 19]), [2, 2]);
  assert.deepEqual(olderRowPlaces(rows, [4]), [0]);
});

Deno.test("olderRowPlaces keeps a row of no message with the message after it, or after the last", () => {
  const rows = [other(5), other(20), shown(30)];
  assert.deepEqual(
    olderRowPlaces(rows, [undefined, 10, undefined, 25, undefined]),
    [1, 1, 2, 2, 2],
  );
  // None with an id: above the first row in view.
  assert.deepEqual(olderRowPlaces(rows, [undefined]), [2]);
});

Deno.test("olderRowPlaces keeps the lines of one message together", () => {
  const rows = [other(5), other(20), other(20), shown(30)];
  assert.deepEqual(olderRowPlaces(rows, [19, 19, 25, 25]), [1, 1, 3, 3]);
});
