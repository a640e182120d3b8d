import assert from "node:assert/strict";
import { QueueGauge, StallWatch } from "../../src/server/backpressure.ts";

Deno.test("QueueGauge holds past the high mark and flows again only at the low mark", () => {
  const gauge = new QueueGauge(100, 50);
  const changes: boolean[] = [];
  gauge.onChange((held) => changes.push(held));
  gauge.add(100);
  assert.equal(gauge.held, false);
  gauge.add(1);
  assert.equal(gauge.held, true);
  gauge.remove(40);
  assert.equal(gauge.held, true);
  gauge.add(500);
  gauge.remove(510);
  assert.equal(gauge.bytes, 51);
  assert.equal(gauge.held, true);
  gauge.remove(1);
  assert.equal(gauge.held, false);
  assert.deepEqual(changes, [true, false]);
  assert.equal(gauge.peak, 561);
});

Deno.test("QueueGauge.flowing resolves at once when flowing, else at the release", async () => {
  const gauge = new QueueGauge(10, 0);
  await gauge.flowing();
  gauge.add(11);
  let released = false;
  const waiting = gauge.flowing().then(() => (released = true));
  await Promise.resolve();
  assert.equal(released, false);
  gauge.remove(11);
  await waiting;
  assert.equal(released, true);
});

Deno.test("QueueGauge.close releases for good, and a high mark of 0 never holds", () => {
  const gauge = new QueueGauge(10, 5);
  gauge.add(20);
  assert.equal(gauge.held, true);
  gauge.close();
  assert.equal(gauge.held, false);
  gauge.add(1000);
  assert.equal(gauge.held, false);
  const unbounded = new QueueGauge(0, 0);
  unbounded.add(1e12);
  assert.equal(unbounded.held, false);
  assert.equal(unbounded.bytes, 1e12);
});

Deno.test("QueueGauge refuses a low mark above the high mark", () => {
  assert.throws(() => new QueueGauge(10, 11), RangeError);
});

Deno.test("StallWatch picks the recipient that took nothing with the most queued, never one that moved", () => {
  const watch = new StallWatch<string>();
  watch.start([["slow", 900], ["stuck", 500], ["idle", 0], ["small", 10]]);
  // "slow" read a little and still has the most: not cut. "stuck" took
  // nothing (and got more); "small" took nothing too, but has less.
  assert.equal(
    watch.stuck([["slow", 899], ["stuck", 600], ["idle", 0], ["small", 10]]),
    "stuck",
  );
  // Each look compares with the one before: "stuck" drained a bit now.
  assert.equal(
    watch.stuck([["slow", 800], ["stuck", 590], ["idle", 0], ["small", 10]]),
    "small",
  );
  // Everyone moved (or has nothing queued): nobody is cut.
  assert.equal(watch.stuck([["slow", 1], ["stuck", 0], ["idle", 0]]), null);
  // One not seen at the last look is not judged yet.
  assert.equal(watch.stuck([["slow", 0], ["new", 5000]]), null);
  assert.equal(watch.stuck([["slow", 0], ["new", 5000]]), "new");
});

Deno.test("StallWatch takes what a recipient took as its progress where it is known, though what is queued for it grew", () => {
  const watch = new StallWatch<string>();
  watch.start([["slow", 500, 1000], ["stuck", 400, 70], ["old", 300]]);
  // "slow" took 10 bytes while more was queued for it than it took; "stuck"
  // took nothing though its queue fell (it cannot, but the count rules);
  // "old" says nothing of what it took, so its queue must fall.
  assert.deepEqual(
    watch.allStuck([["slow", 600, 1010], ["stuck", 390, 70], ["old", 300]]),
    ["stuck", "old"],
  );
  assert.equal(watch.periods("stuck"), 1);
  assert.equal(watch.periods("slow"), 0);
});
