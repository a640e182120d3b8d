import assert from "node:assert/strict";
import {
  emitOrHold,
  emitPlainRefusal,
  emptyHistoryCount,
  type HistoryCount,
  HistoryCounts,
  historyReplyText,
  noteHistoryId,
  releaseHistory,
} from "../../src/client/history_count.ts";
import { plainHistoryRefusal } from "../../src/client/plain_messages.ts";
import type { SessionEvent } from "../../src/client/session_events.ts";

const count = (shown: number, unopened = 0, waiting = 0) => ({
  shown,
  unopened,
  waiting,
});

/** What a count came to, without its promise. */
const tally = (
  { shown, unopened, waiting, oldest, held }: HistoryCount,
) => ({ shown, unopened, waiting, oldest, held });

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
  const nothing = { oldest: null, held: [] };
  assert.deepEqual(tally(counts.take(first, 3)), {
    ...count(1, 1),
    ...nothing,
  });
  assert.deepEqual(tally(counts.take(first, 3)), { ...count(0), ...nothing });
  assert.deepEqual(tally(counts.take(second, 3)), { ...count(2), ...nothing });
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

Deno.test("historyReplyText over pages counts what later pages found after a first reply with none (a group's that stopped looking)", () => {
  const none = "No history for group 'team'.";
  const paged = { kind: "paged", pages: 2, gaveUp: false } as const;
  assert.equal(
    historyReplyText(none, count(1), paged),
    "End of history for group 'team' (1 message).",
  );
  assert.equal(historyReplyText(none, count(0), paged), none);
  assert.equal(
    historyReplyText(none, count(0), { ...paged, pages: 10, gaveUp: true }),
    "End of history for group 'team' (0 messages; older ones remain after 10 requests).",
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
  const taken = counts.take(connection, 1);
  assert.deepEqual(tally(taken), { ...count(0), oldest: 12, held: [line] });
  assert.deepEqual(emitted, [line]);
});

Deno.test("releaseHistory hands on the held lines, the last page asked (the oldest) first, and settles each count's released", async () => {
  const newest = emptyHistoryCount();
  const oldest = emptyHistoryCount();
  const line = (text: string): SessionEvent => ({ type: "notice", text });
  newest.held.push(line("3"), line("4"));
  oldest.held.push(line("1"), line("2"));
  let released = false;
  const both = Promise.all([newest.released.promise, oldest.released.promise])
    .then(() => released = true);
  await Promise.resolve();
  assert.equal(released, false);
  const emitted: SessionEvent[] = [];
  releaseHistory([newest, oldest], (event) => emitted.push(event));
  await both;
  assert.deepEqual(emitted, ["1", "2", "3", "4"].map(line));
});

Deno.test("releaseHistory says two or more refused plain private messages with one person in one error, where the oldest was, across pages; one alone as it was", () => {
  const refusal = (other: string) => ({
    type: "error" as const,
    re: null,
    code: "e2e",
    text: `ERROR: one with ${other}`,
  });
  const line = (text: string): SessionEvent => ({ type: "notice", text });
  const newest = emptyHistoryCount();
  const oldest = emptyHistoryCount();
  emitPlainRefusal(() => {}, refusal("alice"), {
    other: "alice",
    ts: 1_000,
  }, oldest);
  oldest.held.push(line("between"));
  emitPlainRefusal(() => {}, refusal("carol"), {
    other: "carol",
    ts: 1_500,
  }, oldest);
  emitPlainRefusal(() => {}, refusal("ALICE"), {
    other: "ALICE",
    ts: 3_000,
  }, newest);
  newest.held.push(line("last"));
  assert.equal(oldest.unopened + newest.unopened, 3);
  const emitted: SessionEvent[] = [];
  releaseHistory([newest, oldest], (event) => emitted.push(event));
  assert.deepEqual(
    emitted.map((event) => "text" in event ? event.text : event.type),
    [
      plainHistoryRefusal("alice", 2, 1_000, 3_000),
      "between",
      "ERROR: one with carol",
      "last",
    ],
  );
  assert.match(
    plainHistoryRefusal("alice", 2, 1_000, 3_000),
    /^ERROR: 2 private messages with alice in this history came without end-to-end encryption.*\(sent \d{4}-\d\d-\d\d \d\d:\d\d:\d\d to .*ask alice again/,
  );
  // Not held (live): emitted at once, as it is.
  const live: SessionEvent[] = [];
  emitPlainRefusal((event) => live.push(event), refusal("alice"), {
    other: "alice",
    ts: 1,
  }, undefined);
  assert.deepEqual(live, [refusal("alice")]);
});

Deno.test("historyReplyText says that older ones remain and how to see them, and that they may in a private conversation", () => {
  const paged = (more: string | null) => ({
    kind: "paged" as const,
    pages: 1,
    gaveUp: false,
    more,
  });
  assert.equal(
    historyReplyText(
      "End of history for the public room (30 messages).",
      count(30),
      paged("/history 60"),
    ),
    "End of history for the public room (30 messages; older ones remain: /history 60 for more).",
  );
  assert.equal(
    historyReplyText(
      "End of history for your conversation with jojo (2 messages).",
      count(2),
      paged(null),
    ),
    "End of history for your conversation with jojo (2 messages; older ones may remain).",
  );
});
