import assert from "node:assert/strict";
import { DeliveryLedger } from "../../src/client/delivery.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";

type Chat = Extract<ServerMessage, { t: "public" | "private" | "group" }>;

const dm = (from: string, id: number, seq: number, history = false): Chat => ({
  t: "private",
  from,
  ts: id,
  id,
  seq,
  ...(history ? { history: true } : {}),
});

const team = (from: string, id: number, seq: number): Chat => ({
  t: "group",
  group: "Team",
  from,
  ts: id,
  id,
  seq,
});

Deno.test("DeliveryLedger.receive drops a message it has shown, by id", () => {
  const ledger = new DeliveryLedger();
  assert.equal(ledger.receive(dm("alice", 7, 1), "jojo"), "show");
  assert.equal(ledger.receive(dm("alice", 7, 1, true), "jojo"), "duplicate");
  assert.equal(ledger.receive(team("bob", 8, 4), "jojo"), "show");
  assert.equal(ledger.receive(team("bob", 8, 4), "jojo"), "duplicate");
});

Deno.test("DeliveryLedger.receive marks as late what is older than shown from its sender or conversation", () => {
  const ledger = new DeliveryLedger();
  assert.equal(ledger.receive(dm("alice", 12, 3), "jojo"), "show");
  // Older id from the same sender, in another conversation.
  assert.equal(ledger.receive(team("Alice", 10, 9), "jojo"), "late");
  // Older seq in the same conversation, from another sender.
  assert.equal(ledger.receive(team("bob", 20, 11), "jojo"), "show");
  assert.equal(ledger.receive(team("carol", 21, 10), "jojo"), "late");
  // Newer again: shown as new.
  assert.equal(ledger.receive(dm("alice", 30, 4), "jojo"), "show");
});

Deno.test("DeliveryLedger.receive shows messages without a position as they come", () => {
  const ledger = new DeliveryLedger();
  const bare: Chat = { t: "public", from: "alice", ts: 1 };
  assert.equal(ledger.receive(bare, "jojo"), "show");
  assert.equal(ledger.receive(bare, "jojo"), "show");
  assert.deepEqual(ledger.takeCursors(), []);
});

Deno.test("DeliveryLedger.takeCursors gives the highest seq per private and group conversation, then starts afresh", () => {
  const ledger = new DeliveryLedger();
  ledger.receive(dm("alice", 1, 1), "jojo");
  ledger.receive(dm("alice", 3, 2), "jojo");
  ledger.receive(team("bob", 4, 7), "jojo");
  ledger.receive(team("carol", 2, 6), "jojo"); // late: the cursor stays at 7
  ledger.receive({ t: "public", from: "bob", ts: 5, id: 5, seq: 40 }, "jojo");
  // A message jojo sent, in history: the conversation is with `to`.
  ledger.receive(
    { t: "private", from: "Jojo", to: "dora", ts: 6, id: 6, seq: 2 },
    "jojo",
  );
  assert.equal(ledger.pending, 3);
  assert.equal(ledger.noted, 5, "public messages wait for no one");
  assert.deepEqual(ledger.takeCursors(), [
    { to: "alice", seq: 2 },
    { group: "Team", seq: 7 },
    { to: "dora", seq: 2 },
  ]);
  assert.equal(ledger.pending, 0);
  assert.deepEqual(ledger.takeCursors(), []);
  // A duplicate is acknowledged again: the server sent it, so it waits.
  ledger.receive(dm("alice", 3, 2, true), "jojo");
  assert.deepEqual(ledger.takeCursors(), [{ to: "alice", seq: 2 }]);
});

Deno.test("DeliveryLedger.restore puts back unsent cursors unless newer ones exist", () => {
  const ledger = new DeliveryLedger();
  ledger.receive(dm("alice", 1, 5), "jojo");
  const taken = ledger.takeCursors();
  ledger.receive(team("bob", 2, 9), "jojo");
  ledger.restore([...taken, { group: "team", seq: 3 }]);
  assert.deepEqual(ledger.takeCursors(), [
    { group: "Team", seq: 9 },
    { to: "alice", seq: 5 },
  ]);
});

Deno.test("DeliveryLedger forgets the oldest ids past its bound", () => {
  const ledger = new DeliveryLedger(2);
  ledger.receive(dm("alice", 1, 1), "jojo");
  ledger.receive(dm("alice", 2, 2), "jojo");
  ledger.receive(dm("alice", 3, 3), "jojo");
  assert.equal(ledger.receive(dm("alice", 3, 3), "jojo"), "duplicate");
  // Forgotten, so not a duplicate any more; still older than what was shown.
  assert.equal(ledger.receive(dm("alice", 1, 1), "jojo"), "late");
});

Deno.test("DeliveryLedger does not remember public ids: a public message is never sent twice", () => {
  const ledger = new DeliveryLedger(1);
  const hello: Chat = { t: "public", from: "bob", ts: 1, id: 9, seq: 3 };
  assert.equal(ledger.receive(dm("alice", 5, 1), "jojo"), "show");
  assert.equal(ledger.receive(hello, "jojo"), "show");
  // The one remembered id is still alice's.
  assert.equal(ledger.receive(dm("alice", 5, 1), "jojo"), "duplicate");
  // Still in order: an older public seq is late.
  assert.equal(
    ledger.receive(
      { t: "public", from: "carol", ts: 1, id: 10, seq: 2 },
      "jojo",
    ),
    "late",
  );
});

Deno.test("DeliveryLedger.opened: a message being opened holds its conversation's cursor below it until it is dealt with", () => {
  const ledger = new DeliveryLedger();
  assert.equal(ledger.receive(dm("alice", 1, 1), "jojo"), "show");
  assert.equal(ledger.receive(dm("alice", 2, 2), "jojo", true), "show");
  assert.equal(ledger.receive(dm("alice", 3, 3), "jojo"), "show");
  assert.equal(ledger.receive(team("bob", 4, 9), "jojo", true), "show");
  // Sent again while still being opened: dropped, not opened twice.
  assert.equal(ledger.receive(dm("alice", 2, 2, true), "jojo"), "duplicate");
  assert.deepEqual(ledger.takeCursors(), [{ to: "alice", seq: 1 }]);
  ledger.opened(dm("alice", 2, 2), "jojo");
  assert.deepEqual(ledger.takeCursors(), [{ to: "alice", seq: 3 }]);
  ledger.opened(team("bob", 4, 9), "jojo");
  assert.deepEqual(ledger.takeCursors(), [{ group: "Team", seq: 9 }]);
  // Only once.
  ledger.opened(team("bob", 4, 9), "jojo");
  assert.deepEqual(ledger.takeCursors(), []);
});

Deno.test("DeliveryLedger.opened: many messages of one conversation being opened at once cost little each, and the cursor still stops below the first", () => {
  // A reader that keeps lines unwritten (a stalled terminal, --json unread)
  // leaves up to its queue's 16,384 lines being opened, and messages that
  // wait for their keys stay so for as long as the keys are away: each
  // `opened` scanned them all (an indexOf, a splice, a Math.min of them
  // spread as arguments), which took seconds for a queue's worth, during
  // which the client answered no ping, and threw past ~120,000.
  const ledger = new DeliveryLedger(1_000_000);
  const count = 200_000;
  // The first one waits (for its keys, say); all after it are dealt with.
  for (let n = 1; n <= count; n++) {
    assert.equal(ledger.receive(dm("alice", n, n), "jojo", true), "show");
  }
  const started = performance.now();
  for (let n = 2; n <= count; n++) ledger.opened(dm("alice", n, n), "jojo");
  const tookMs = performance.now() - started;
  assert.deepEqual(ledger.takeCursors(), []);
  ledger.opened(dm("alice", 1, 1), "jojo");
  assert.deepEqual(ledger.takeCursors(), [{ to: "alice", seq: count }]);
  // In order (a queue written out), then out of order.
  for (let n = count + 1; n <= 2 * count; n++) {
    ledger.receive(dm("alice", n, n), "jojo", true);
  }
  for (let n = count + 1; n <= 2 * count; n++) {
    ledger.opened(dm("alice", n, n), "jojo");
  }
  assert.deepEqual(ledger.takeCursors(), [{ to: "alice", seq: 2 * count }]);
  for (const n of [2 * count + 3, 2 * count + 1, 2 * count + 2]) {
    ledger.receive(dm("alice", n, n), "jojo", true);
  }
  ledger.opened(dm("alice", 2 * count + 2, 2 * count + 2), "jojo");
  ledger.opened(dm("alice", 2 * count + 3, 2 * count + 3), "jojo");
  assert.deepEqual(ledger.takeCursors(), [{ to: "alice", seq: 2 * count }]);
  ledger.opened(dm("alice", 2 * count + 1, 2 * count + 1), "jojo");
  assert.deepEqual(ledger.takeCursors(), [{
    to: "alice",
    seq: 2 * count + 3,
  }]);
  // 2-3 µs each on a loaded machine (0.15 s for 50,000: 12.6 s when each
  // scanned the rest, so minutes for these).
  assert.ok(tookMs < 20_000, `${count} opened took ${tookMs.toFixed(0)} ms`);
});
