/** Recipients that hold senders back are cut off: a gauge and fake channels, no sockets. */

import assert from "node:assert/strict";
import { QueueGauge } from "../../src/server/backpressure.ts";
import { LogLimiter } from "../../src/server/log_limiter.ts";
import { watchQueueStall } from "../../src/server/queue_stall.ts";

interface FakeChannel {
  backlog: number;
}

/**
 * A gauge over 100 bytes watched with `channels`; `cutOff` resolves once
 * `count` are cut off, `onCut` is told each as it goes.
 */
function watched(
  channels: Map<number, FakeChannel>,
  count: number,
  onCut: (id: number) => void = () => {},
) {
  const gauge = new QueueGauge(100, 50);
  const lines: string[] = [];
  let done!: () => void;
  const cutOff = new Promise<void>((resolve) => (done = resolve));
  const cuts: number[] = [];
  watchQueueStall(gauge, {
    channels,
    maxQueuedBytes: 100,
    queueStallMs: 10,
    refusals: new LogLimiter((line) => lines.push(line)),
    cutOff(id, channel) {
      assert.equal(channel, channels.get(id));
      channels.delete(id);
      cuts.push(id);
      onCut(id);
      if (cuts.length === count) done();
    },
  });
  return { gauge, lines, cutOff, cuts };
}

const HELD =
  "150 bytes queued for recipients, over 100: not reading senders until half of it is written";

/** The log line of a period's cut offs. */
function cutLine(count: number, mostQueued: number): string {
  return `recipients held senders back for 10 ms: cutting off ${count} (the most queued of those that took nothing meanwhile, and those that took nothing for two periods; the most queued: ${mostQueued} bytes)`;
}

Deno.test("watchQueueStall cuts off the most queued recipient that took nothing in a stall period, the others that took nothing in the next, never one that reads", async () => {
  const channels = new Map<number, FakeChannel>([
    [1, { backlog: 30 }],
    [2, { backlog: 90 }],
    [3, { backlog: 60 }],
  ]);
  const { gauge, lines, cutOff, cuts } = watched(channels, 2, (id) => {
    // 2 reads on, however slowly.
    if (id === 3) channels.get(2)!.backlog = 70;
  });
  gauge.add(150);
  assert.deepEqual(lines, [HELD]);
  // 2 has the most but reads, however slowly: not it.
  channels.get(2)!.backlog = 80;
  await cutOff;
  assert.deepEqual(cuts, [3, 1]);
  // The second period's line is held back by the log's limiter.
  assert.deepEqual(lines.slice(1), [cutLine(1, 60)]);
  // Closing the gauge lets senders go and ends the watch's timer.
  gauge.close();
  assert.equal(gauge.held, false);
});

Deno.test("watchQueueStall cuts off every recipient that took nothing for two stall periods at once, not one a period", async () => {
  // Sixty connections of one classmate that stopped reading while the room
  // was busy: cut one a period (5 s), they held every sender on the server
  // for minutes.
  const channels = new Map<number, FakeChannel>();
  for (let id = 1; id <= 60; id++) channels.set(id, { backlog: 10 + id });
  channels.set(100, { backlog: 500 });
  const { gauge, lines, cutOff, cuts } = watched(channels, 60, (id) => {
    if (id === 60) channels.get(100)!.backlog = 498;
  });
  gauge.add(150);
  // 100 reads, however slowly: not it.
  channels.get(100)!.backlog = 499;
  await cutOff;
  assert.deepEqual(cuts, Array.from({ length: 60 }, (_, i) => 60 - i));
  assert.deepEqual(lines.slice(1), [cutLine(1, 70)]);
  assert.ok(channels.has(100));
  gauge.close();
});

Deno.test("watchQueueStall does not cut off a reader whose backlog grew in the first period and fell in the second", async () => {
  // Held back, senders are not read, but what was read before is still
  // routed: in the first period a reader's backlog can grow although it
  // reads (and a large frame shows no fall until it is written whole).
  const channels = new Map<number, FakeChannel>([
    [1, { backlog: 500 }],
    [2, { backlog: 100 }],
    [3, { backlog: 50 }],
  ]);
  const { gauge, lines, cutOff, cuts } = watched(channels, 2, (id) => {
    if (id === 1) channels.get(2)!.backlog = 140;
  });
  gauge.add(150);
  channels.get(2)!.backlog = 150;
  await cutOff;
  assert.deepEqual(cuts, [1, 3]);
  assert.deepEqual(lines.slice(1), [cutLine(1, 500)]);
  assert.ok(channels.has(2));
  gauge.close();
});

Deno.test("watchQueueStall cuts off no one once the gauge flows again", () => {
  const channels = new Map<number, FakeChannel>([[1, { backlog: 200 }]]);
  const { gauge, lines, cuts } = watched(channels, 1);
  gauge.add(150);
  gauge.remove(150);
  // Released before the stall period: its timer is gone (the test's leak
  // check fails on a timer left), and nothing was cut.
  assert.equal(gauge.held, false);
  assert.equal(lines.length, 1);
  assert.deepEqual(cuts, []);
});
