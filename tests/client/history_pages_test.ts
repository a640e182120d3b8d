import assert from "node:assert/strict";
import {
  MAX_HISTORY_PAGES,
  nextHistoryStep,
  totalCount,
} from "../../src/client/history_pages.ts";
import {
  emptyHistoryCount,
  type HistoryCount,
} from "../../src/client/history_count.ts";

const page = (
  shown: number,
  oldest: number | null,
  unopened = 0,
  waiting = 0,
): HistoryCount => ({
  ...emptyHistoryCount(),
  shown,
  unopened,
  waiting,
  oldest,
});

Deno.test("nextHistoryStep asks for the places still missing, older than the oldest item any page brought", () => {
  // Two items, one a key: one line, and the server says more.
  assert.deepEqual(nextHistoryStep(2, [page(1, 41)], true), {
    kind: "ask",
    before: 41,
    limit: 1,
  });
  assert.deepEqual(nextHistoryStep(5, [page(1, 41), page(2, 30)], true), {
    kind: "ask",
    before: 30,
    limit: 2,
  });
});

Deno.test("nextHistoryStep stops when nothing older is left or enough came, counting unopened and waiting messages as places", () => {
  assert.deepEqual(nextHistoryStep(2, [page(1, 41)], false), {
    kind: "done",
    gaveUp: false,
  });
  assert.deepEqual(nextHistoryStep(2, [page(2, 41)], true), {
    kind: "done",
    gaveUp: false,
  });
  assert.deepEqual(nextHistoryStep(3, [page(1, 41, 1, 1)], true), {
    kind: "done",
    gaveUp: false,
  });
});

Deno.test("nextHistoryStep gives up after MAX_HISTORY_PAGES requests, or with no id to go back from", () => {
  const keysOnly = Array.from(
    { length: MAX_HISTORY_PAGES },
    (_, i) => page(0, 1000 - i),
  );
  assert.deepEqual(nextHistoryStep(2, keysOnly, true), {
    kind: "done",
    gaveUp: true,
  });
  assert.deepEqual(nextHistoryStep(2, keysOnly.slice(1), true).kind, "ask");
  assert.deepEqual(nextHistoryStep(2, [page(0, null)], true), {
    kind: "done",
    gaveUp: true,
  });
});

Deno.test("totalCount sums the pages and keeps the smallest id", () => {
  assert.deepEqual(
    totalCount([page(1, 41, 1), page(2, null, 0, 3), page(0, 7)]),
    {
      shown: 3,
      unopened: 1,
      waiting: 3,
      oldest: 7,
    },
  );
  assert.deepEqual(totalCount([]), {
    shown: 0,
    unopened: 0,
    waiting: 0,
    oldest: null,
  });
});
