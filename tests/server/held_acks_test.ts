import assert from "node:assert/strict";
import { HeldAcks, MAX_HELD_CURSORS } from "../../src/server/held_acks.ts";
import { MAX_ACK_CURSORS } from "../../src/protocol/messages.ts";

Deno.test("HeldAcks keeps the highest seq per conversation, names ignoring case", () => {
  const held = new HeldAcks();
  held.hold([{ to: "Bob", seq: 4 }, { group: "team", seq: 9 }]);
  held.hold([{ to: "bob", seq: 3 }, { group: "TEAM", seq: 11 }]);
  assert.equal(held.size, 2);
  assert.deepEqual(held.take(), [[{ to: "Bob", seq: 4 }, {
    group: "TEAM",
    seq: 11,
  }]]);
  assert.deepEqual(held.take(), [], "empty once taken");
});

Deno.test("HeldAcks holds at most MAX_HELD_CURSORS conversations and hands them out in acks of at most MAX_ACK_CURSORS", () => {
  const held = new HeldAcks();
  held.hold(
    Array.from({ length: MAX_HELD_CURSORS + 10 }, (_, i) => ({
      to: `u${i}`,
      seq: 1,
    })),
  );
  assert.equal(held.size, MAX_HELD_CURSORS);
  // A conversation already held still moves on when full.
  held.hold([{ to: "u0", seq: 5 }]);
  const lists = held.take();
  assert.ok(lists.every((list) => list.length <= MAX_ACK_CURSORS));
  const all = lists.flat();
  assert.equal(all.length, MAX_HELD_CURSORS);
  assert.deepEqual(all[0], { to: "u0", seq: 5 });
});
