import assert from "node:assert/strict";
import { GroupBacklog } from "../../src/server/group_backlog.ts";

Deno.test("GroupBacklog.crossed is true once per step up, and again after a drain", () => {
  const budget = new GroupBacklog<number>(1000, 100);
  budget.add(1, "a");
  assert.deepEqual(
    [50, 99, 100, 150, 199, 200, 250, 320].map((b) => budget.crossed(1, b)),
    [false, false, true, false, false, true, false, true],
  );
  // Drained to step 1, then growing again: step 2 is checked anew.
  assert.equal(budget.crossed(1, 120), false);
  assert.equal(budget.crossed(1, 210), true);
});

Deno.test("GroupBacklog.crossed is never true for an untracked connection or without a budget", () => {
  const budget = new GroupBacklog<number>(1000, 100);
  assert.equal(budget.crossed(7, 10_000), false);
  const none = new GroupBacklog<number>(0, 100);
  none.add(1, "a");
  assert.equal(none.crossed(1, 10_000), false);
  assert.equal(none.size, 0);
});

Deno.test("GroupBacklog.over sums the group only and names the member with the most", () => {
  const budget = new GroupBacklog<number>(1000, 100);
  budget.add(1, "a");
  budget.add(2, "a");
  budget.add(3, "a");
  budget.add(4, "b");
  const queued = new Map([[1, 300], [2, 500], [3, 150], [4, 5000]]);
  const of = (id: number) => queued.get(id) ?? 0;
  assert.equal(budget.over(1, of), null, "950 bytes is within 1000");
  queued.set(3, 250);
  assert.deepEqual(budget.over(1, of), { largest: 2, total: 1050 });
  assert.deepEqual(budget.over(4, of), { largest: 4, total: 5000 });
  budget.remove(2);
  assert.equal(budget.over(1, of), null);
});

Deno.test("GroupBacklog forgets removed connections and empty groups", () => {
  const budget = new GroupBacklog<number>(1000, 100);
  budget.add(1, "a");
  budget.add(2, "a");
  budget.remove(1);
  budget.remove(1);
  budget.remove(2);
  assert.equal(budget.size, 0);
  assert.equal(budget.over(1, () => 5000), null);
});
