import assert from "node:assert/strict";
import {
  type ClientMessage,
  MAX_ACK_CURSORS,
} from "../../src/protocol/messages.ts";
import { HeldAcks, MAX_HELD_CURSORS } from "../../src/server/held_acks.ts";
import {
  ACK_CURSORS_PER_TOKEN,
  ackWeight,
  HELD_ACKS_BURST,
  MessageRate,
  type Verdict,
} from "../../src/server/message_rate.ts";
import { KeyedTokenBuckets } from "../../src/server/rate_limit.ts";

const LIMITS = {
  messagesPerSecond: 10,
  messageBurst: 3,
  historyPerSecond: 1,
  historyBurst: 1,
  historyFreePerConnection: 1,
  floodStrikes: 3,
};

function rate(shared = new KeyedTokenBuckets(100, 100)): MessageRate {
  return new MessageRate(LIMITS, shared, "10.0.0.1", 0);
}

function judge(
  limiter: MessageRate,
  types: ClientMessage["t"][],
  now = 0,
): Verdict[] {
  return types.map((type) => limiter.judge(type, now));
}

Deno.test("MessageRate passes a burst, then refuses, then cuts off after floodStrikes refusals in a row", () => {
  assert.deepEqual(
    judge(rate(), ["say", "say", "say", "say", "say", "say"]),
    ["pass", "pass", "pass", "slow_down", "slow_down", "flood"],
  );
});

Deno.test("MessageRate forgives strikes once a message passes again", () => {
  const limiter = rate();
  judge(limiter, ["say", "say", "say"]);
  assert.deepEqual(judge(limiter, ["say", "say"]), ["slow_down", "slow_down"]);
  // 100 ms later one token is back: it passes, and the count starts over.
  assert.deepEqual(judge(limiter, ["say", "say", "say"], 100), [
    "pass",
    "slow_down",
    "slow_down",
  ]);
});

Deno.test("MessageRate holds acks over the rate without a strike, and lets file data of a live transfer through", () => {
  const limiter = rate();
  judge(limiter, ["say", "say", "say"]);
  assert.deepEqual(
    [
      ...judge(limiter, ["ack", "ack", "ack"]),
      limiter.judge("file_chunk", 0, true),
      limiter.judge("file_ack", 0, true),
      limiter.judge("say", 0),
    ],
    ["hold", "hold", "hold", "pass", "pass", "slow_down"],
  );
});

Deno.test("MessageRate holds acks over the rate up to a bucket of their own, then cuts off", () => {
  const limiter = rate();
  judge(limiter, ["say", "say", "say"]);
  const verdicts = judge(limiter, Array(HELD_ACKS_BURST + 1).fill("ack"));
  assert.deepEqual(
    verdicts.slice(0, HELD_ACKS_BURST),
    Array(HELD_ACKS_BURST).fill("hold"),
  );
  assert.equal(verdicts.at(-1), "flood");
});

Deno.test("MessageRate lets a window's worth of file data for no transfer through, then cuts off", () => {
  const limiter = rate();
  const stray = Array.from({ length: 256 }, () => limiter.judge("file_ack", 0));
  assert.ok(stray.every((verdict) => verdict === "pass"));
  assert.equal(limiter.judge("file_chunk", 0), "flood");
  // Paced data is not counted against it.
  assert.equal(limiter.judge("file_chunk", 0, true), "pass");
});

Deno.test("MessageRate counts a message that could not be parsed as any other", () => {
  const limiter = rate();
  assert.deepEqual(
    [null, null, null, null, null, null].map((type) => limiter.judge(type, 0)),
    ["pass", "pass", "pass", "slow_down", "slow_down", "flood"],
  );
});

Deno.test("MessageRate gives history a small bucket of its own", () => {
  const limiter = rate();
  assert.deepEqual(judge(limiter, ["history", "history", "say"]), [
    "pass",
    "slow_down",
    "pass",
  ]);
  assert.deepEqual(judge(limiter, ["history"], 1000), ["pass"]);
});

Deno.test("MessageRate shares its address's bucket, taken from only when its own has a token", () => {
  const shared = new KeyedTokenBuckets(1, 4);
  const first = rate(shared);
  const second = rate(shared);
  assert.deepEqual(judge(first, ["say", "say", "say", "say", "say"]), [
    "pass",
    "pass",
    "pass",
    // Its own bucket is empty: the address's last token stays.
    "slow_down",
    "slow_down",
  ]);
  assert.deepEqual(judge(second, ["say", "say"]), ["pass", "slow_down"]);
});

Deno.test("MessageRate shares an address's history bucket between its connections", () => {
  const history = new KeyedTokenBuckets(1, 3);
  const shared = new KeyedTokenBuckets(100, 100);
  const [a, b] = [0, 1].map(() =>
    new MessageRate(
      { ...LIMITS, historyBurst: 5 },
      shared,
      "10.0.0.1",
      0,
      history,
    )
  );
  // Each one's first is its own (below); the next three share the 3.
  assert.deepEqual(
    [a!, b!, a!, b!, a!, b!].map((limiter) => limiter.judge("history", 0)),
    ["pass", "pass", "pass", "pass", "pass", "slow_down"],
  );
  // Another address has its own.
  const other = new MessageRate(LIMITS, shared, "10.0.0.2", 0, history);
  other.judge("history", 0);
  assert.equal(other.judge("history", 1000), "pass");
});

Deno.test("MessageRate does not count a connection's first history request against its address's: forty sessions' catch-ups at once all pass", () => {
  const history = new KeyedTokenBuckets(3, 10);
  const shared = new KeyedTokenBuckets(100, 100);
  const connections = Array.from(
    { length: 40 },
    () => new MessageRate(LIMITS, shared, "10.0.0.1", 0, history),
  );
  assert.deepEqual(
    connections.map((limiter) => limiter.judge("history", 0)),
    connections.map(() => "pass"),
  );
  // The address's 10 are still there for what the users ask after.
  assert.deepEqual(
    connections.map((limiter) => limiter.judge("history", 1000)),
    [...Array(10).fill("pass"), ...Array(30).fill("slow_down")],
  );
  // A connection's own bucket counts its first one as any other.
  const alone = new MessageRate(LIMITS, shared, "10.0.0.3", 0, history);
  assert.deepEqual(judge(alone, ["history", "history"]), [
    "pass",
    "slow_down",
  ]);
});

Deno.test("MessageRate charges an ack of many cursors a token per 16 of them, into debt: a flood of heavy acks is held to the rate in cursors", () => {
  assert.equal(ackWeight(1), 1);
  assert.equal(ackWeight(15), 1);
  assert.equal(ackWeight(16), 2);
  assert.equal(ackWeight(256), 17);
  // 10 tokens a second, bursts of 3: an ack of 256 cursors passes on the
  // first token and leaves the bucket in debt, all 14 tokens of it ...
  const limiter = rate();
  assert.equal(limiter.judge("ack", 0, false, ackWeight(256)), "pass");
  // ... so the next ack, light or heavy, is held until the debt is paid:
  // 14 tokens owed and 1 to take, 1.5 s at 10 a second.
  assert.equal(limiter.judge("ack", 100, false, 1), "hold");
  assert.equal(limiter.judge("say", 1490, false, 1), "slow_down");
  assert.equal(limiter.judge("say", 1510, false, 1), "pass");
  // Light acks cost what any message does.
  const light = rate();
  assert.deepEqual(
    [1, 2, 3, 4].map(() => light.judge("ack", 0, false, ackWeight(3))),
    ["pass", "pass", "pass", "hold"],
  );
});

Deno.test("MessageRate holds a flood of acks to the rate in cursors when held acks make each one that passes heavier than a burst", () => {
  // The server's defaults. An ack over the rate is held (held_acks.ts), up
  // to MAX_HELD_CURSORS, and goes with the next that passes: 256 + 1024
  // cursors, 81 tokens, twice the burst of 40.
  const limits = { ...LIMITS, messagesPerSecond: 20, messageBurst: 40 };
  const limiter = new MessageRate(
    limits,
    new KeyedTokenBuckets(0, 0),
    "10.0.0.1",
    0,
  );
  const held = new HeldAcks();
  let applied = 0;
  let fresh = 0;
  const seconds = 20;
  // 50 acks a second, within the held acks' own bucket of 64.
  for (let now = 0; now < seconds * 1000; now += 20) {
    const cursors = Array.from(
      { length: MAX_ACK_CURSORS },
      () => ({ to: `user${fresh++}`, seq: 1 }),
    );
    const verdict = limiter.judge(
      "ack",
      now,
      false,
      ackWeight(cursors.length + held.size),
    );
    assert.notEqual(verdict, "flood");
    if (verdict === "hold") {
      held.hold(cursors);
      continue;
    }
    applied += cursors.length + held.take().flat().length;
  }
  // What the rate and the burst allow, and one ack's weight of debt.
  const allowed = ACK_CURSORS_PER_TOKEN *
    (20 * seconds + 40 + ackWeight(MAX_ACK_CURSORS + MAX_HELD_CURSORS));
  assert.ok(
    applied <= allowed,
    `${applied} cursors applied, ${allowed} allowed`,
  );
});
