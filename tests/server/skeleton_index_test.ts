import assert from "node:assert/strict";
import { SkeletonIndex } from "../../src/server/skeleton_index.ts";

Deno.test("SkeletonIndex.keysLike gives the name keys that look like a name, its own left out", () => {
  const index = new SkeletonIndex();
  index.add("Alice");
  index.add("aIice");
  index.add("bob");
  index.add("alice"); // the same key again: once
  assert.deepEqual(index.keysLike("a1ice"), ["alice", "aiice"]);
  assert.deepEqual(index.keysLike("ALICE"), ["aiice"]);
  assert.deepEqual(index.keysLike("b0b"), ["bob"]);
  assert.deepEqual(index.keysLike("carol"), []);
  index.delete("AIICE");
  index.delete("nobody");
  assert.deepEqual(index.keysLike("a1ice"), ["alice"]);
  index.delete("alice");
  assert.deepEqual(index.keysLike("a1ice"), []);
});
