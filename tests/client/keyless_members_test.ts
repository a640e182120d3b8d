import assert from "node:assert/strict";
import {
  KeylessTold,
  MAX_KEYLESS_TOLD,
  sendsInTheClear,
} from "../../src/client/keyless_members.ts";

Deno.test("sendsInTheClear is true only when every other member is without keys", () => {
  assert.equal(sendsInTheClear(2, 2), true);
  assert.equal(sendsInTheClear(1, 1), true);
  assert.equal(sendsInTheClear(3, 1), false, "a made-up member among keyed");
  assert.equal(sendsInTheClear(3, 0), false);
  assert.equal(sendsInTheClear(0, 0), false, "alone in the group");
});

Deno.test("KeylessTold says each member of each group once, and stays bounded", () => {
  const told = new KeylessTold();
  assert.equal(told.add("srv", "crew", "ghost"), true);
  assert.equal(told.add("srv", "crew", "ghost"), false);
  assert.equal(told.add("srv", "other", "ghost"), true);
  assert.equal(told.add("srv2", "crew", "ghost"), true);
  for (let i = 0; i < MAX_KEYLESS_TOLD; i++) told.add("srv", "g", `m${i}`);
  // Started over once full: an early one is said again, not kept forever.
  assert.equal(told.add("srv", "crew", "ghost"), true);
});
