import assert from "node:assert/strict";
import { RUN_MAX_STEPS, RunBudget } from "../../src/server/run_budget.ts";

const BOUND = 64 * 1024 * 1024;

function stepsUntilFull(budget: RunBudget, body: number, to: number): number {
  let steps = 0;
  while (!budget.full) {
    budget.add(body, to);
    steps++;
  }
  return steps;
}

Deno.test("RunBudget ends a run once what it queues for recipients passes its share of the bound", () => {
  const budget = new RunBudget(BOUND);
  // A 100-byte public message to a room of 100: 164 bytes x 99.
  assert.equal(stepsUntilFull(budget, 100, 99), 17);
  budget.reset();
  assert.equal(stepsUntilFull(budget, 16, 99), 34);
  budget.reset();
  // A tighter bound, shorter runs; never empty.
  const tight = new RunBudget(1024 * 1024);
  assert.equal(stepsUntilFull(tight, 2000, 1), 2);
  tight.reset();
  assert.equal(stepsUntilFull(tight, 100_000, 1), 1);
});

Deno.test("RunBudget ends a run of small messages to one recipient at RUN_MAX_STEPS", () => {
  const budget = new RunBudget(BOUND);
  assert.equal(stepsUntilFull(budget, 0, 1), RUN_MAX_STEPS);
  budget.reset();
  assert.equal(budget.full, false);
});

Deno.test("RunBudget without a bound runs as under the default one", () => {
  assert.equal(stepsUntilFull(new RunBudget(0), 100, 99), 17);
});
