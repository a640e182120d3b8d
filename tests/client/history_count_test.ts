import assert from "node:assert/strict";
import {
  emitOrHold,
  HistoryCounts,
  historyReplyText,
  noteHistoryId,
} from "../../src/client/history_count.ts";
import type { SessionEvent } from "../../src/client/session_events.ts";

const count = (shown: number, unopened = 0, waiting = 0) => ({
  shown,
  unopened,
  waiting,
  oldest: null,
  held: [],
});

Deno.test("historyReplyText says how many lines were shown, not how many the server stored", () => {
  assert.equal(
    historyReplyText(
      "End of history for your conversation with sophia (2 messages).",
      count(1),
    ),
    "End of history for your conversation with sophia (1 message).",
  );
  assert.equal(
    historyReplyText("End of history for group 'haha' (2 messages).", count(0)),
    "End of history for group 'haha' (0 messages).",
  );
  assert.equal(
    historyReplyText(
      "End of history for the public room (1 message).",
      count(3),
    ),
    "End of history for the public room (3 messages).",
  );
});

Deno.test("historyReplyText says plainly how many could not be opened or still wait for their key, and keeps the server's cut note", () => {
  assert.equal(
    historyReplyText(
      "End of history for group 'haha' (2 messages).",
      count(1, 1),
    ),
    "End of history for group 'haha' (1 message; 1 could not be opened).",
  );
  assert.equal(
    historyReplyText(
      "End of history for group 'haha' (3 messages).",
      count(0, 1, 2),
    ),
    "End of history for group 'haha' (0 messages; 1 could not be opened; 2 still waiting for their keys).",
  );
  assert.equal(
    historyReplyText(
      "End of history for the public room (500 messages; older ones do not fit in one reply).",
      count(499, 0, 1),
    ),
    "End of history for the public room (499 messages; 1 still waiting for its key; older ones do not fit in one reply).",
  );
});

Deno.test("historyReplyText leaves other texts as they are", () => {
  for (
    const text of [
      "No history for group 'haha'.",
      "This server keeps no history.",
      "End of history.",
    ]
  ) assert.equal(historyReplyText(text, count(5)), text);
});

Deno.test("HistoryCounts keeps one count per connection and request, forgotten once taken", () => {
  const counts = new HistoryCounts();
  const first = {};
  const second = {};
  counts.of(first, 3).shown++;
  counts.of(first, 3).unopened++;
  counts.of(second, 3).shown += 2;
  assert.deepEqual(counts.take(first, 3), count(1, 1));
  assert.deepEqual(counts.take(first, 3), count(0));
  assert.deepEqual(counts.take(second, 3), count(2));
});

Deno.test("historyReplyText over pages drops the server's cut note, and says when older ones were left", () => {
  const cut =
    "End of history for the public room (16 messages; older ones do not fit in one reply).";
  assert.equal(
    historyReplyText(cut, count(20), {
      kind: "paged",
      pages: 2,
      gaveUp: false,
    }),
    "End of history for the public room (20 messages).",
  );
  assert.equal(
    historyReplyText(
      "End of history for your conversation with sophia (2 messages).",
      count(1, 1),
      { kind: "paged", pages: 10, gaveUp: true },
    ),
    "End of history for your conversation with sophia (1 message; 1 could not be opened; older ones remain after 10 requests).",
  );
  assert.equal(
    historyReplyText(cut, count(3), { kind: "one_reply" }),
    "End of history for the public room (3 messages; older ones do not fit in one reply).",
  );
});

Deno.test("HistoryCounts notes the oldest id that answered, and emitOrHold holds a request's lines", () => {
  const counts = new HistoryCounts();
  const connection = {};
  const one = counts.of(connection, 1);
  for (const id of [40, 12, 31]) noteHistoryId(one, id);
  const emitted: SessionEvent[] = [];
  const line: SessionEvent = { type: "notice", text: "a line" };
  emitOrHold((event) => emitted.push(event), line, one);
  emitOrHold((event) => emitted.push(event), line, undefined);
  assert.deepEqual(counts.take(connection, 1), {
    ...count(0),
    oldest: 12,
    held: [line],
  });
  assert.deepEqual(emitted, [line]);
});
