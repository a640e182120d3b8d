import assert from "node:assert/strict";
import { TurnBudget } from "../../src/transport/turn_budget.ts";

Deno.test("TurnBudget lets a turn run until its budget, then waits for the next turn", async () => {
  let clock = 0;
  const turns = new TurnBudget(20, () => clock);
  assert.equal(turns.check(), null);
  clock = 19;
  assert.equal(turns.check(), null);
  clock = 20;
  const wait = turns.check();
  assert.notEqual(wait, null);
  // Not within this turn: microtasks alone do not release it.
  let released = false;
  wait!.then(() => (released = true));
  for (let i = 0; i < 100; i++) await Promise.resolve();
  assert.equal(released, false);
  // A timer fires once the loop comes round: the turn is over.
  await new Promise((resolve) => setTimeout(resolve, 0));
  await wait;
  assert.equal(released, true);
  // A new turn starts a new budget.
  assert.equal(turns.check(), null);
  clock = 39;
  assert.equal(turns.check(), null);
  await new Promise((resolve) => setTimeout(resolve, 0));
});

Deno.test("TurnBudget keeps timers running under a loop that never leaves the microtask queue", async () => {
  const turns = new TurnBudget(5);
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  try {
    // Without the budget this loop would hold the event loop for its whole
    // length: the interval would not tick once.
    const started = performance.now();
    while (performance.now() - started < 200) {
      const wait = turns.check();
      if (wait !== null) await wait;
      else await Promise.resolve();
    }
    assert.ok(ticks >= 5, `the interval ticked ${ticks} times in 200 ms`);
  } finally {
    clearInterval(ticker);
  }
});
