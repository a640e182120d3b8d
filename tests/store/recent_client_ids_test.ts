import assert from "node:assert/strict";
import { RecentClientIds } from "../../src/store/recent_client_ids.ts";

const at = (id: number) => ({ id, seq: id });

Deno.test("RecentClientIds finds a sender's client id, keeps the first position and tells senders apart", () => {
  const ids = new RecentClientIds(10);
  assert.equal(ids.add("ann", "a1", at(1)), true);
  assert.equal(ids.add("ann", "a1", at(2)), false);
  assert.deepEqual(ids.get("ann", "a1"), at(1));
  assert.equal(ids.get("bob", "a1"), undefined);
  // The key cannot be confused by where one part ends and the next begins.
  ids.add("1b", "a", at(3));
  assert.equal(ids.get("b", "a1"), undefined);
  assert.deepEqual(ids.get("1b", "a"), at(3));
});

Deno.test("RecentClientIds forgets the oldest beyond its capacity only when settled, and says from which id", () => {
  const ids = new RecentClientIds(3);
  for (let id = 1; id <= 5; id++) ids.add("ann", `c${id}`, at(id));
  // Not settled: a transaction may still be undone, nothing is forgotten.
  assert.equal(ids.size, 5);
  assert.deepEqual(ids.get("ann", "c1"), at(1));
  ids.settle();
  assert.equal(ids.size, 3);
  assert.equal(ids.get("ann", "c1"), undefined);
  assert.equal(ids.get("ann", "c2"), undefined);
  assert.deepEqual(ids.get("ann", "c3"), at(3));
  assert.equal(ids.forgottenBefore(), 3);
  const fresh = new RecentClientIds(3);
  fresh.add("ann", "c1", at(1));
  assert.equal(fresh.forgottenBefore(), undefined);
});

Deno.test("RecentClientIds undoes what was added after a mark, as a rolled-back savepoint, and keeps the rest", () => {
  const ids = new RecentClientIds(10);
  ids.add("ann", "kept", at(1));
  const outer = ids.mark();
  ids.add("ann", "outer", at(2));
  const inner = ids.mark();
  ids.add("ann", "inner", at(3));
  // A retry of an id known before the mark adds nothing to undo.
  ids.add("ann", "kept", at(4));
  ids.undoTo(inner);
  assert.equal(ids.get("ann", "inner"), undefined);
  assert.deepEqual(ids.get("ann", "outer"), at(2));
  assert.deepEqual(ids.get("ann", "kept"), at(1));
  ids.undoTo(outer);
  assert.equal(ids.get("ann", "outer"), undefined);
  assert.deepEqual(ids.get("ann", "kept"), at(1));
  // Settled ids are committed: a later undo cannot reach them.
  ids.add("ann", "later", at(5));
  ids.settle();
  ids.undoTo(ids.mark());
  ids.undoTo(0);
  assert.deepEqual(ids.get("ann", "later"), at(5));
});

Deno.test("RecentClientIds refuses to keep none", () => {
  assert.throws(() => new RecentClientIds(0), RangeError);
  assert.throws(() => new RecentClientIds(1.5), RangeError);
});

Deno.test("RecentClientIds keeps the newest, in order, through many forgotten ones, and undoes after that", () => {
  const ids = new RecentClientIds(10);
  for (let id = 1; id <= 3000; id++) {
    ids.add(`user${id % 3}`, `c${id}`, at(id));
    ids.settle();
  }
  assert.equal(ids.size, 10);
  assert.equal(ids.forgottenBefore(), 2991);
  for (let id = 2981; id <= 3000; id++) {
    assert.deepEqual(
      ids.get(`user${id % 3}`, `c${id}`),
      id > 2990 ? at(id) : undefined,
      `id ${id}`,
    );
  }
  const mark = ids.mark();
  ids.add("user0", "c3001", at(3001));
  ids.add("user1", "c3002", at(3002));
  ids.undoTo(mark);
  assert.equal(ids.size, 10);
  assert.equal(ids.get("user0", "c3001"), undefined);
  ids.add("user2", "c3003", at(3003));
  ids.settle();
  assert.equal(ids.forgottenBefore(), 2992);
  assert.deepEqual(ids.get("user2", "c3003"), at(3003));
});
