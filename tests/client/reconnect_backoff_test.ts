import assert from "node:assert/strict";
import {
  firstAttempt,
  HEALTHY_AFTER_MS,
  RetryWait,
} from "../../src/client/reconnect_backoff.ts";
import {
  RECONNECT_MAX_MS,
  reconnectDelay,
} from "../../src/client/reconnect_status.ts";

Deno.test("firstAttempt starts again at 1 after a connection that stayed healthy", () => {
  for (const attempt of [0, 1, 5, 40]) {
    assert.equal(
      firstAttempt({
        attempt,
        lastedMs: HEALTHY_AFTER_MS,
        brokeProtocol: false,
      }),
      1,
    );
    assert.equal(
      firstAttempt({
        attempt,
        lastedMs: 3_600_000,
        brokeProtocol: false,
      }),
      1,
    );
  }
});

Deno.test("firstAttempt carries on after a connection that ended soon after its welcome", () => {
  assert.equal(
    firstAttempt({ attempt: 0, lastedMs: 50, brokeProtocol: false }),
    1,
  );
  assert.equal(
    firstAttempt({ attempt: 1, lastedMs: 50, brokeProtocol: false }),
    2,
  );
  assert.equal(
    firstAttempt({
      attempt: 4,
      lastedMs: HEALTHY_AFTER_MS - 1,
      brokeProtocol: false,
    }),
    5,
  );
});

Deno.test("firstAttempt carries on after a protocol violation, however long the connection lasted", () => {
  assert.equal(
    firstAttempt({ attempt: 1, lastedMs: 3_600_000, brokeProtocol: true }),
    2,
  );
  assert.equal(
    firstAttempt({ attempt: 3, lastedMs: 0, brokeProtocol: true }),
    4,
  );
});

Deno.test("firstAttempt makes the waits grow to the cap, and no further, when every connection breaks at once", () => {
  const smallest = () => 0;
  let attempt = 0;
  const waits: number[] = [];
  for (let broken = 0; broken < 8; broken++) {
    // Each reconnection succeeds at its first attempt, and breaks at once.
    attempt = firstAttempt({ attempt, lastedMs: 100, brokeProtocol: true });
    waits.push(reconnectDelay(attempt, smallest));
  }
  assert.deepEqual(waits, [500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
  assert.ok(waits.every((wait) => wait <= RECONNECT_MAX_MS));
});

Deno.test("HEALTHY_AFTER_MS is no shorter than the longest wait", () => {
  assert.ok(HEALTHY_AFTER_MS >= RECONNECT_MAX_MS);
});

Deno.test("RetryWait: a key cuts an attempt's wait short once, not once per key", async () => {
  const retries = new RetryWait();
  const far = Date.now() + 60_000;
  // A key while no wait runs (an attempt under way) is not kept for later.
  retries.nudge();
  assert.equal(retries.nudgeable, true);
  const first = retries.until(far);
  retries.nudge();
  assert.equal(await first, "nudged");
  assert.equal(retries.nudgeable, false);
  // The rest of the same attempt's wait: keys do nothing, the end comes.
  const rest = retries.until(Date.now() + 30);
  for (let key = 0; key < 40; key++) retries.nudge();
  assert.equal(await rest, "elapsed");
  // A new attempt: a key cuts it short again.
  retries.fresh();
  const next = retries.until(far);
  retries.nudge();
  assert.equal(await next, "nudged");
});

Deno.test("RetryWait: wake ends a wait whatever keys came before", async () => {
  const retries = new RetryWait();
  const first = retries.until(Date.now() + 60_000);
  retries.nudge();
  await first;
  const rest = retries.until(Date.now() + 60_000);
  retries.wake();
  assert.equal(await rest, "nudged");
});
