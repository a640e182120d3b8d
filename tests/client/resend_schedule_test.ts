import assert from "node:assert/strict";
import {
  RESEND_BUDGET_MS,
  RESEND_DELAYS_MS,
  ResendSchedule,
} from "../../src/client/resend_schedule.ts";

/** The pauses `schedule` gives, each waited in full, until it gives up. */
function pauses(schedule: ResendSchedule): number[] {
  const out: number[] = [];
  for (let delay = schedule.next(); delay !== null; delay = schedule.next()) {
    out.push(delay);
    schedule.waited(delay);
  }
  return out;
}

Deno.test("ResendSchedule pauses 1, 2, 4, 8 and 15 s, then every 15 s until RESEND_BUDGET_MS connected are spent", () => {
  const all = pauses(new ResendSchedule());
  assert.deepEqual(all.slice(0, 7), [
    1000,
    2000,
    4000,
    8000,
    15_000,
    15_000,
    15_000,
  ]);
  assert.deepEqual(RESEND_DELAYS_MS, [1000, 2000, 4000, 8000, 15_000]);
  assert.equal(all.reduce((a, b) => a + b, 0), RESEND_BUDGET_MS);
});

Deno.test("ResendSchedule counts only the time waited while connected: time away is not reported, and does not use the budget up", () => {
  const schedule = new ResendSchedule([10, 20], 100);
  assert.equal(schedule.next(), 10);
  schedule.waited(10);
  // Disconnected for a long while: nothing waited is reported meanwhile.
  schedule.reconnected();
  assert.deepEqual(pauses(schedule), [10, 20, 20, 20, 20]);
  assert.equal(schedule.next(), null);
});

Deno.test("ResendSchedule starts its pauses over at a reconnection of ours, and clips the last to what is left of the budget", () => {
  const schedule = new ResendSchedule([10, 20, 40], 65);
  assert.equal(schedule.next(), 10);
  schedule.waited(10);
  assert.equal(schedule.next(), 20);
  schedule.waited(5); // our connection broke 5 ms in
  schedule.reconnected();
  assert.equal(schedule.next(), 10);
  schedule.waited(10);
  assert.equal(schedule.next(), 20);
  schedule.waited(20);
  assert.equal(schedule.next(), 20); // 40, but only 20 are left
  schedule.waited(20);
  assert.equal(schedule.next(), null);
});
