/** Recipients that hold senders back are cut off: a gauge and fake channels, no sockets. */

import assert from "node:assert/strict";
import { QueueGauge } from "../../src/server/backpressure.ts";
import { LogLimiter } from "../../src/server/log_limiter.ts";
import { watchQueueStall } from "../../src/server/queue_stall.ts";

interface FakeChannel {
  backlog: number;
}

/** A gauge over 100 bytes watched with `channels`; resolves at the first cut off. */
function watched(channels: Map<number, FakeChannel>) {
  const gauge = new QueueGauge(100, 50);
  const lines: string[] = [];
  let cut!: (id: number) => void;
  const cutOff = new Promise<number>((resolve) => (cut = resolve));
  const cuts: number[] = [];
  watchQueueStall(gauge, {
    channels,
    maxQueuedBytes: 100,
    queueStallMs: 10,
    refusals: new LogLimiter((line) => lines.push(line)),
    cutOff(id, channel) {
      assert.equal(channel, channels.get(id));
      cuts.push(id);
      cut(id);
    },
  });
  return { gauge, lines, cutOff, cuts };
}

Deno.test("watchQueueStall cuts off the recipients that took nothing in a stall period, the most queued first, never one that reads", async () => {
  const channels = new Map<number, FakeChannel>([
    [1, { backlog: 30 }],
    [2, { backlog: 90 }],
    [3, { backlog: 60 }],
  ]);
  const { gauge, lines, cutOff, cuts } = watched(channels);
  gauge.add(150);
  assert.deepEqual(lines, [
    "150 bytes queued for recipients, over 100: not reading senders until half of it is written",
  ]);
  // 2 has the most but reads, however slowly: not it.
  channels.get(2)!.backlog = 80;
  assert.equal(await cutOff, 3);
  assert.deepEqual(cuts, [3, 1]);
  assert.equal(
    lines[1],
    "recipients held senders back for 10 ms: cutting off the 2 that took nothing meanwhile (the most queued: 60 bytes)",
  );
  // Closing the gauge lets senders go and ends the watch's timer.
  gauge.close();
  assert.equal(gauge.held, false);
});

Deno.test("watchQueueStall cuts off every recipient that took nothing in a stall period at once, the most queued first, not one a period", async () => {
  // Sixty connections of one classmate that stopped reading while the room
  // was busy: cut one a period (5 s), they held every sender on the server
  // for minutes.
  const channels = new Map<number, FakeChannel>();
  for (let id = 1; id <= 60; id++) channels.set(id, { backlog: 10 + id });
  channels.set(100, { backlog: 500 });
  const { gauge, lines, cutOff, cuts } = watched(channels);
  gauge.add(150);
  // 100 reads, however slowly: not it.
  channels.get(100)!.backlog = 499;
  assert.equal(await cutOff, 60);
  assert.deepEqual(cuts, Array.from({ length: 60 }, (_, i) => 60 - i));
  assert.equal(
    lines[1],
    "recipients held senders back for 10 ms: cutting off the 60 that took nothing meanwhile (the most queued: 70 bytes)",
  );
  gauge.close();
});

Deno.test("watchQueueStall cuts off no one once the gauge flows again", () => {
  const channels = new Map<number, FakeChannel>([[1, { backlog: 200 }]]);
  const { gauge, lines, cuts } = watched(channels);
  gauge.add(150);
  gauge.remove(150);
  // Released before the stall period: its timer is gone (the test's leak
  // check fails on a timer left), and nothing was cut.
  assert.equal(gauge.held, false);
  assert.equal(lines.length, 1);
  assert.deepEqual(cuts, []);
});
