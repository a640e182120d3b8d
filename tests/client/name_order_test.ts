import assert from "node:assert/strict";
import { compareNames, sortedNames } from "../../src/client/name_order.ts";

Deno.test("sortedNames puts numbers in names in numeric order", () => {
  assert.deepEqual(
    sortedNames(["bot10", "bot2", "bot1", "bot02x", "alice"]),
    ["alice", "bot1", "bot2", "bot02x", "bot10"],
  );
});

Deno.test("sortedNames sorts case aside, then the same name by code point", () => {
  assert.deepEqual(sortedNames(["carol", "bob", "Bob", "alice"]), [
    "alice",
    "Bob",
    "bob",
    "carol",
  ]);
  // The same order whatever order they came in.
  assert.deepEqual(sortedNames(["bob", "Bob"]), sortedNames(["Bob", "bob"]));
  assert.equal(compareNames("bob", "bob"), 0);
});

Deno.test("sortedNames leaves its argument as it was", () => {
  const names = ["b", "a"];
  sortedNames(names);
  assert.deepEqual(names, ["b", "a"]);
});
