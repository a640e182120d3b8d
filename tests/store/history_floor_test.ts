import assert from "node:assert/strict";
import { MAX_HISTORY_SCAN } from "../../src/protocol/limits.ts";
import {
  MEMBERSHIP_PERIODS_KEPT,
  openStore,
} from "../../src/store/sqlite_store.ts";

/**
 * A store whose group 'team' holds `count` messages of alice's (ids 1..,
 * sent at 2..), bob a member from before the first (at 1).
 */
function groupOf(count: number) {
  const store = openStore(":memory:");
  store.ensureUser("alice", "alice", 1);
  store.ensureUser("bob", "bob", 1);
  store.createGroup("team", "team", "alice", 1);
  store.addMember("team", "alice", "alice", 1);
  store.addMember("team", "bob", "bob", 1);
  store.transaction(() => {
    for (let i = 0; i < count; i++) {
      store.appendMessage({
        kind: "group",
        groupKey: "team",
        fromKey: "alice",
        fromName: "alice",
        ts: 2 + i,
        body: new TextEncoder().encode(String(i)),
        recipients: [],
      });
    }
  });
  return store;
}

const bobsView = { kind: "group", groupKey: "team", viewerKey: "bob" } as const;

Deno.test("Store.historyFloor is the oldest of the MAX_HISTORY_SCAN newest group messages below the cursor, only when older ones remain", () => {
  const store = groupOf(MAX_HISTORY_SCAN + 1);
  // Ids 1..MAX_HISTORY_SCAN + 1: the window is 2.., message 1 left unread.
  assert.equal(store.historyFloor(bobsView), 2);
  assert.equal(
    store.historyFloor({ ...bobsView, before: MAX_HISTORY_SCAN + 1 }),
    null,
  );
  assert.equal(store.historyFloor({ ...bobsView, before: 100 }), null);
  // The public room and private conversations are one indexed range each.
  assert.equal(store.historyFloor({ kind: "public" }), null);
  assert.equal(
    store.historyFloor({
      kind: "private",
      viewerKey: "bob",
      otherKey: "alice",
    }),
    null,
  );
});

Deno.test("Store.history reads a group no further back than historyFloor, for any viewer", () => {
  const store = groupOf(MAX_HISTORY_SCAN + 1);
  assert.deepEqual(store.history(bobsView, 5), []);
  const alices = store.history({ ...bobsView, viewerKey: "alice" }, 5);
  assert.deepEqual(alices.map((m) => m.id), [
    MAX_HISTORY_SCAN - 3,
    MAX_HISTORY_SCAN - 2,
    MAX_HISTORY_SCAN - 1,
    MAX_HISTORY_SCAN,
    MAX_HISTORY_SCAN + 1,
  ]);
  // Below the floor, the next page reads on.
  assert.deepEqual(
    store.history({ ...bobsView, viewerKey: "alice", before: 2 }, 5).map((
      m,
    ) => m.id),
    [1],
  );
});

Deno.test("Store.historyFloor is none for a member who joined after every message below the window: nothing older is theirs to read", () => {
  const store = groupOf(MAX_HISTORY_SCAN + 1);
  store.ensureUser("carol", "carol", 1);
  const carolsView = { ...bobsView, viewerKey: "carol" };
  // Joined once the group held them all: /history was told older ones
  // remain, and paged on through messages carol could never read.
  store.addMember("team", "carol", "carol", MAX_HISTORY_SCAN + 2);
  assert.equal(store.historyFloor(carolsView), null);
  // Messages sent since she joined are hers: still none below the window.
  store.transaction(() => {
    for (let i = 0; i < 3; i++) {
      store.appendMessage({
        kind: "group",
        groupKey: "team",
        fromKey: "alice",
        fromName: "alice",
        ts: MAX_HISTORY_SCAN + 3 + i,
        body: new TextEncoder().encode("new"),
        recipients: [{ userKey: "carol", delivered: true }],
      });
    }
  });
  assert.equal(store.historyFloor(carolsView), null);
  // bob, a member from the start, still has older ones to page on to.
  assert.equal(store.historyFloor(bobsView), 5);
});

Deno.test("Store.historyFloor counts from the first time a member joined, not the last", () => {
  const store = groupOf(MAX_HISTORY_SCAN + 1);
  store.ensureUser("carol", "carol", 1);
  // Joined before the oldest message, left, and back after the newest.
  store.addMember("team", "carol", "carol", 1);
  store.removeMember("team", "carol", 3);
  store.addMember("team", "carol", "carol", MAX_HISTORY_SCAN + 5);
  assert.equal(store.historyFloor({ ...bobsView, viewerKey: "carol" }), 2);
});

Deno.test("Store.historyFloor looks for older ones as before once a member's first periods may be gone (MEMBERSHIP_PERIODS_KEPT)", () => {
  const store = groupOf(MAX_HISTORY_SCAN + 1);
  store.ensureUser("carol", "carol", 1);
  // Her periods from before the messages went as she came and went after.
  store.addMember("team", "carol", "carol", 1);
  store.removeMember("team", "carol", 1);
  const late = MAX_HISTORY_SCAN + 10;
  for (let i = 0; i < MEMBERSHIP_PERIODS_KEPT; i++) {
    store.addMember("team", "carol", "carol", late + 2 * i);
    store.removeMember("team", "carol", late + 2 * i + 1);
  }
  store.addMember("team", "carol", "carol", late + 100);
  assert.equal(store.historyFloor({ ...bobsView, viewerKey: "carol" }), 2);
});
