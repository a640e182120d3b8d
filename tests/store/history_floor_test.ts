import assert from "node:assert/strict";
import { MAX_HISTORY_SCAN } from "../../src/protocol/limits.ts";
import { openStore } from "../../src/store/sqlite_store.ts";

/** A store whose group 'team' holds `count` messages of alice's (ids 1..). */
function groupOf(count: number) {
  const store = openStore(":memory:");
  store.ensureUser("alice", "alice", 1);
  store.ensureUser("bob", "bob", 1);
  store.createGroup("team", "team", "alice", 1);
  store.addMember("team", "alice", "alice", 1);
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
