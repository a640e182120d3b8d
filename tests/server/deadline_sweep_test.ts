import assert from "node:assert/strict";
import { DeadlineSweep, type Timers } from "../../src/server/deadline_sweep.ts";

/** A clock that moves only when told, and its one pending timer at most. */
class FakeTimers implements Timers {
  time = 1000;
  pending: { run: () => void; at: number; id: number }[] = [];
  #next = 1;
  now(): number {
    return this.time;
  }
  setTimeout(run: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.push({ run, at: this.time + ms, id });
    return id;
  }
  clearTimeout(timer: unknown): void {
    this.pending = this.pending.filter((t) => t.id !== timer);
  }
  /** Moves the clock to `time`, running the timers due by then. */
  advance(time: number): void {
    this.time = time;
    for (;;) {
      const due = this.pending.find((t) => t.at <= time);
      if (due === undefined) return;
      this.pending = this.pending.filter((t) => t !== due);
      due.run();
    }
  }
}

Deno.test("DeadlineSweep calls due for each key past its deadline, in order, with one timer", () => {
  const timers = new FakeTimers();
  const due: string[] = [];
  const sweep = new DeadlineSweep<string>((key) => due.push(key), timers);
  sweep.add("a", 100);
  timers.time = 1010;
  sweep.add("b", 100);
  timers.time = 1020;
  sweep.add("c", 100);
  assert.equal(timers.pending.length, 1, "one timer for all");
  timers.advance(1099);
  assert.deepEqual(due, []);
  timers.advance(1115);
  assert.deepEqual(due, ["a", "b"]);
  assert.equal(sweep.size, 1);
  assert.deepEqual(timers.pending.map((t) => t.at), [1120]);
  timers.advance(1200);
  assert.deepEqual(due, ["a", "b", "c"]);
  assert.equal(timers.pending.length, 0, "no timer once nothing is watched");
});

Deno.test("DeadlineSweep forgets deleted keys and stops its timer with the last", () => {
  const timers = new FakeTimers();
  const due: number[] = [];
  const sweep = new DeadlineSweep<number>((key) => due.push(key), timers);
  sweep.add(1, 100);
  sweep.add(2, 100);
  sweep.delete(1);
  assert.equal(timers.pending.length, 1);
  sweep.delete(2);
  assert.equal(timers.pending.length, 0);
  timers.advance(5000);
  assert.deepEqual(due, []);
});

Deno.test("DeadlineSweep.stop leaves keys that the next add schedules again", () => {
  const timers = new FakeTimers();
  const due: number[] = [];
  const sweep = new DeadlineSweep<number>((key) => due.push(key), timers);
  sweep.add(1, 100);
  sweep.stop();
  timers.advance(2000);
  assert.deepEqual(due, []);
  sweep.add(2, 100);
  // The overdue key goes at once, the new one at its own deadline.
  timers.advance(2000);
  assert.deepEqual(due, [1]);
  timers.advance(2100);
  assert.deepEqual(due, [1, 2]);
});
