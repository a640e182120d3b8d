import assert from "node:assert/strict";
import { KeyedTokenBuckets, TokenBucket } from "../../src/server/rate_limit.ts";

Deno.test("TokenBucket passes a burst, then holds a flood to the rate", () => {
  const bucket = new TokenBucket(10, 3, 0);
  assert.deepEqual([0, 0, 0, 0].map(() => bucket.take(0)), [
    true,
    true,
    true,
    false,
  ]);
  assert.equal(bucket.take(50), false);
  assert.equal(bucket.take(100), true);
  assert.equal(bucket.take(100), false);
});

Deno.test("KeyedTokenBuckets limits each key on its own", () => {
  const buckets = new KeyedTokenBuckets(10, 2);
  assert.equal(buckets.take("a", 0), true);
  assert.equal(buckets.take("a", 0), true);
  assert.equal(buckets.take("a", 0), false);
  assert.equal(buckets.take("b", 0), true, "another key has its own bucket");
  assert.equal(buckets.take("a", 100), true, "refilled at the rate");
});

Deno.test("KeyedTokenBuckets drops buckets idle long enough to be full again", () => {
  const buckets = new KeyedTokenBuckets(10, 2); // full again after 200 ms
  for (let i = 0; i < 1000; i++) buckets.take(`10.0.${i >> 8}.${i & 255}`, i);
  // At t=1000 only the keys used in the last 200 ms are kept.
  buckets.take("late", 1000);
  assert.ok(buckets.size <= 202, `${buckets.size} buckets`);
  // A dropped key starts with a full burst, as it would have had anyway.
  assert.equal(buckets.take("10.0.0.0", 1000), true);
  assert.equal(buckets.take("10.0.0.0", 1000), true);
  assert.equal(buckets.take("10.0.0.0", 1000), false);
});

Deno.test("KeyedTokenBuckets holds at most maxKeys buckets, however many keys come", () => {
  const buckets = new KeyedTokenBuckets(1, 30, 100);
  for (let i = 0; i < 10_000; i++) buckets.take(`k${i}`, 0);
  assert.ok(buckets.size <= 100, `${buckets.size} buckets`);
});

Deno.test("KeyedTokenBuckets with a rate of 0 lets everything through and keeps nothing", () => {
  const buckets = new KeyedTokenBuckets(0, 0);
  for (let i = 0; i < 100; i++) assert.equal(buckets.take("a", 0), true);
  assert.equal(buckets.size, 0);
});

Deno.test("KeyedTokenBuckets.charge takes tokens taken elsewhere, into debt down to one burst, and leaves other keys and no limit alone", () => {
  const buckets = new KeyedTokenBuckets(10, 5);
  buckets.charge("a", 3, 0);
  assert.ok(buckets.take("a", 0));
  assert.ok(buckets.take("a", 0));
  assert.ok(!buckets.take("a", 0));
  assert.ok(buckets.take("b", 0));
  // Charged far past its tokens: in debt by one burst at most, so it has
  // a token again after (burst + 1) / rate = 0.6 s, not later.
  buckets.charge("a", 1000, 0);
  assert.ok(!buckets.take("a", 500));
  assert.ok(buckets.take("a", 700));
  const unlimited = new KeyedTokenBuckets(0, 0);
  unlimited.charge("a", 1000, 0);
  assert.ok(unlimited.take("a", 0));
});

Deno.test("KeyedTokenBuckets keeps a bucket in debt past a burst's refill: a pause does not forgive what a heavy take left owing", () => {
  const buckets = new KeyedTokenBuckets(10, 10); // full again after 1 s
  // A request weighing 17 from a full bucket: 7 owed.
  assert.ok(buckets.take("a", 0, 17));
  // 1.1 s idle: past one refill, 11 tokens back, 4 there.
  let passed = 0;
  while (buckets.take("a", 1100)) passed++;
  assert.equal(passed, 4);
  assert.ok(buckets.holdMs >= 1700, `${buckets.holdMs} ms`);
});

Deno.test("KeyedTokenBuckets stays bounded under a flood of addresses each left in debt", () => {
  const buckets = new KeyedTokenBuckets(10, 10, 500);
  let most = 0;
  // 20,000 addresses, one a millisecond, each a request weighing 30 (the
  // deepest debt here: 20 owed, 3 s to be full again).
  for (let i = 0; i < 20_000; i++) {
    buckets.take(`k${i}`, i, 30);
    most = Math.max(most, buckets.size);
  }
  assert.ok(most <= 500, `${most} buckets at most`);
  const small = new KeyedTokenBuckets(10, 10);
  for (let i = 0; i < 20_000; i++) small.take(`k${i}`, i, 30);
  // Held: those used within the hold (3 s: 3000 of them, one more for
  // the one that came), however many came before.
  assert.ok(small.size <= 3001, `${small.size} buckets`);
  assert.ok(small.holdMs <= 3000, `${small.holdMs} ms`);

  // Once idle for the hold, a bucket is full: dropped, then new.
  small.take("late", 20_000 + 3000);
  assert.ok(small.size <= 2, `${small.size} buckets`);
});
