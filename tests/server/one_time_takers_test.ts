import assert from "node:assert/strict";
import {
  MAX_REMEMBERED_TAKERS,
  OneTimeTakers,
} from "../../src/server/one_time_takers.ts";

Deno.test("OneTimeTakers remembers who took whose key until the owner publishes again", () => {
  const takers = new OneTimeTakers();
  assert.equal(takers.took("bob", "SHA256:m"), false);
  takers.add("bob", "SHA256:m");
  assert.equal(takers.took("bob", "SHA256:m"), true);
  assert.equal(takers.took("bob", "SHA256:a"), false);
  assert.equal(takers.took("carol", "SHA256:m"), false);
  takers.forget("bob");
  assert.equal(takers.took("bob", "SHA256:m"), false);
});

Deno.test("OneTimeTakers forgets the owners heard of longest ago past MAX_REMEMBERED_TAKERS pairs", () => {
  const takers = new OneTimeTakers();
  takers.add("first", "SHA256:x");
  takers.add("second", "SHA256:x");
  for (let i = 0; i < MAX_REMEMBERED_TAKERS - 2; i++) {
    takers.add("many", `SHA256:${i}`);
  }
  // Used again: now the newest of the three owners.
  takers.add("first", "SHA256:x");
  assert.equal(takers.took("second", "SHA256:x"), true);
  takers.add("many", "SHA256:one more");
  assert.equal(takers.took("second", "SHA256:x"), false);
  assert.equal(takers.took("first", "SHA256:x"), true);
  assert.equal(takers.took("many", "SHA256:0"), true);
});
