import assert from "node:assert/strict";
import {
  AccountBudgets,
  BUDGET_MEMORY_MS,
  sweepBudgetSpends,
} from "../../src/server/account_budgets.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { MAX_BUDGET_SPENDS } from "../../src/store/budget_queries.ts";

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

Deno.test("AccountBudgets tells its counter what each budget took (a cluster's node, for the others), and charges what was taken on another node, both budgets of a prekey", () => {
  const budgets = new AccountBudgets({
    oneTimeKeysPerHourPerOwnerPerAddress: 2,
    oneTimeKeysPerHourPerAddress: 3,
    groupsCreatedPerHourPerAddress: 2,
    groupsJoinedPerHourPerAddress: 0,
  });
  const told: string[] = [];
  budgets.countWith({
    tookGroupCreate: (address) => told.push(`create ${address}`),
    tookGroupJoin: (address) => told.push(`join ${address}`),
    tookPrekey: (address, owner) => told.push(`prekey ${address} ${owner}`),
  });
  assert.equal(budgets.createGroup("10.0.0.5", 0), true);
  // A budget turned off takes nothing, so tells nothing.
  assert.equal(budgets.joinGroup("10.0.0.5", 0), true);
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "bob", 0), true);
  // Not counted (loopback): nothing to tell.
  assert.equal(budgets.createGroup(null, 0), true);
  assert.deepEqual(told, ["create 10.0.0.5", "prekey 10.0.0.5 bob"]);
  // Another node's address created one and took one of bob's and one of
  // carol's: the address's budgets are spent here.
  budgets.charge("10.0.0.5", {
    created: 1,
    joined: 5,
    prekeys: [["bob", 1], ["carol", 1]],
  }, 0);
  assert.equal(budgets.createGroup("10.0.0.5", 0), false);
  assert.equal(budgets.takeOneTimeKey("10.0.0.5", "dan", 0), false);
  // Another address's are its own.
  assert.equal(budgets.createGroup("10.0.0.6", 0), true);
  // Charged past the budget, into debt of one budget at most: two hours'
  // refill bring it back, not a hundred groups' worth.
  budgets.charge("10.0.0.6", { created: 100, joined: 0, prekeys: [] }, 0);
  assert.equal(budgets.createGroup("10.0.0.6", HOUR), false);
  assert.equal(budgets.createGroup("10.0.0.6", 2 * HOUR), true);
});

Deno.test("AccountBudgets made again on the same store (a restart) owes what was spent and charged in the last two hours, not before", () => {
  using store = openStore(":memory:");
  const limits = {
    oneTimeKeysPerHourPerOwnerPerAddress: 1,
    oneTimeKeysPerHourPerAddress: 10,
    groupsCreatedPerHourPerAddress: 1,
    groupsJoinedPerHourPerAddress: 2,
  };
  const T = 10 * HOUR;
  const before = new AccountBudgets(limits, store, T);
  assert.equal(before.createGroup("10.0.0.5", T), true);
  assert.equal(before.takeOneTimeKey("10.0.0.5", "bob", T), true);
  // Another node's report: 10.0.0.6 joined two groups there.
  before.charge("10.0.0.6", { created: 0, joined: 2, prekeys: [] }, T);
  const after = new AccountBudgets(limits, store, T + 1);
  assert.equal(after.createGroup("10.0.0.5", T + 1), false);
  assert.equal(after.takeOneTimeKey("10.0.0.5", "bob", T + 1), false);
  assert.equal(after.takeOneTimeKey("10.0.0.5", "amy", T + 1), true);
  assert.equal(after.joinGroup("10.0.0.6", T + 1), false);
  assert.equal(after.createGroup("10.0.0.7", T + 1), true);
  // Two hours on, everything is refilled, and the spends are dropped.
  const later = T + BUDGET_MEMORY_MS + 2;
  new AccountBudgets(limits, store, later);
  assert.deepEqual(store.budgetSpendsSince(0), []);
});

Deno.test("AccountBudgets without a store, or with budgets off, keeps nothing", () => {
  using store = openStore(":memory:");
  const off = new AccountBudgets(
    {
      oneTimeKeysPerHourPerOwnerPerAddress: 0,
      oneTimeKeysPerHourPerAddress: 0,
      groupsCreatedPerHourPerAddress: 0,
      groupsJoinedPerHourPerAddress: 0,
    },
    store,
    0,
  );
  assert.equal(off.createGroup("10.0.0.5", 0), true);
  assert.equal(off.takeOneTimeKey("10.0.0.5", "bob", 0), true);
  assert.deepEqual(store.budgetSpendsSince(0), []);
});

Deno.test("sweepBudgetSpends drops the spends kept once two hours old, though nothing more is spent: their addresses leave the disk", () => {
  using store = openStore(":memory:");
  const limits = {
    oneTimeKeysPerHourPerOwnerPerAddress: 1,
    oneTimeKeysPerHourPerAddress: 10,
    groupsCreatedPerHourPerAddress: 1,
    groupsJoinedPerHourPerAddress: 2,
  };
  const T = 10 * HOUR;
  const budgets = new AccountBudgets(limits, store, T);
  assert.equal(budgets.createGroup("10.0.0.5", T), true);
  assert.equal(budgets.joinGroup("10.0.0.6", T + HOUR), true);
  const sweeper = sweepBudgetSpends(store);
  try {
    // A quiet server: no spend, no restart, and two hours past the first.
    sweeper.sweep(T + BUDGET_MEMORY_MS + 1);
    assert.deepEqual(
      store.budgetSpendsSince(0).map((spend) => spend.address),
      ["10.0.0.6"],
    );
    sweeper.sweep(T + HOUR + BUDGET_MEMORY_MS + 1);
    assert.deepEqual(store.budgetSpendsSince(0), []);
  } finally {
    sweeper.stop();
  }
});

Deno.test("the store keeps at most MAX_BUDGET_SPENDS spends, the newest: many addresses (a LAN peer posing as many) do not grow it without bound", () => {
  using store = openStore(":memory:");
  const T = 10 * HOUR;
  const extra = 1000;
  for (let i = 0; i < MAX_BUDGET_SPENDS + extra; i++) {
    store.recordBudgetSpend({
      at: T,
      kind: "join",
      address: `fe80::${i.toString(16)}%eth0`,
      owner: null,
      count: 1,
    });
  }
  const kept = store.budgetSpendsSince(0);
  assert.ok(
    kept.length <= MAX_BUDGET_SPENDS,
    `${kept.length} spends kept`,
  );
  // The newest are the ones kept.
  assert.equal(
    kept.at(-1)?.address,
    `fe80::${(MAX_BUDGET_SPENDS + extra - 1).toString(16)}%eth0`,
  );
});
