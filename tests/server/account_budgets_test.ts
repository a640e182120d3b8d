import assert from "node:assert/strict";
import { AccountBudgets } from "../../src/server/account_budgets.ts";

const HOUR = 3_600_000;

Deno.test("AccountBudgets.takeOneTimeKey holds an address to a few of one owner's keys an hour and a bound on everyone's", () => {
  const budgets = new AccountBudgets({
    oneTimeKeysPerHourPerOwnerPerAddress: 2,
    oneTimeKeysPerHourPerAddress: 3,
    groupsCreatedPerHourPerAddress: 0,
    groupsJoinedPerHourPerAddress: 0,
  });
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "bob", 0), true);
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "bob", 0), true);
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "bob", 0), false);
  // Another address has its own; so does another owner, up to the total.
  assert.equal(budgets.takeOneTimeKey("10.0.0.6", "bob", 0), true);
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "carol", 0), true);
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "dan", 0), false);
  // Not counted: the server's own machine.
  for (let i = 0; i < 10; i++) {
    assert.equal(budgets.takeOneTimeKey(null, "bob", 0), true);
  }
  // Refilled over the hour.
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "bob", HOUR / 2), true);
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "bob", HOUR / 2), false);
});

Deno.test("AccountBudgets with limits of 0 holds no one", () => {
  const budgets = new AccountBudgets({
    oneTimeKeysPerHourPerOwnerPerAddress: 0,
    oneTimeKeysPerHourPerAddress: 0,
    groupsCreatedPerHourPerAddress: 0,
    groupsJoinedPerHourPerAddress: 0,
  });
  for (let i = 0; i < 10; i++) {
    assert.equal(budgets.takeOneTimeKey("10.0.0.5", "bob", 0), true);
    assert.equal(budgets.createGroup("10.0.0.5", 0), true);
    assert.equal(budgets.joinGroup("10.0.0.5", 0), true);
  }
});

Deno.test("AccountBudgets holds an address to a few groups created and joined an hour, each apart", () => {
  const budgets = new AccountBudgets({
    oneTimeKeysPerHourPerOwnerPerAddress: 0,
    oneTimeKeysPerHourPerAddress: 0,
    groupsCreatedPerHourPerAddress: 2,
    groupsJoinedPerHourPerAddress: 1,
  });
  assert.equal(budgets.createGroup("10.0.0.5", 0), true);
  assert.equal(budgets.createGroup("10.0.0.5", 0), true);
  assert.equal(budgets.createGroup("10.0.0.5", 0), false);
  assert.equal(budgets.joinGroup("10.0.0.5", 0), true);
  assert.equal(budgets.joinGroup("10.0.0.5", 0), false);
  assert.equal(budgets.createGroup("10.0.0.6", 0), true);
  assert.equal(budgets.createGroup(null, 0), true);
  assert.equal(budgets.joinGroup(null, 0), true);
  // Refilled over the hour: one of two in half of it.
  assert.equal(budgets.createGroup("10.0.0.5", HOUR / 2), true);
  assert.equal(budgets.createGroup("10.0.0.5", HOUR / 2), false);
  assert.equal(budgets.joinGroup("10.0.0.5", HOUR), true);
});

Deno.test("AccountBudgets.takeOneTimeKey refused for everyone's spends nothing of the owner's", () => {
  const budgets = new AccountBudgets({
    oneTimeKeysPerHourPerOwnerPerAddress: 1,
    oneTimeKeysPerHourPerAddress: 2,
    groupsCreatedPerHourPerAddress: 0,
    groupsJoinedPerHourPerAddress: 0,
  });
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "bob", 0), true);
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "carol", 0), true);
  // Everyone's are used up: asking for dan's keys, again and again, takes
  // none of what the address may take of his.
  for (let i = 0; i < 3; i++) {
    assert.equal(budgets.takeOneTimeKey("10.0.0.5", "dan", 0), false);
  }
  // Half an hour on, one of everyone's is back: dan's one is still there.
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "dan", HOUR / 2), true);
});
