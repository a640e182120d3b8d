/**
 * The log's asynchronous publisher against a real `nats-server -js`: many
 * records in flight, each acknowledged with its own sequence, in publish
 * order; the bound on what is in flight; what it says when JetStream has no
 * stream for a subject, and once closed.
 */

import assert from "node:assert/strict";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import {
  ACK_TIMEOUT_MS,
  LogPublisher,
  LogUnavailableError,
  MAX_IN_FLIGHT,
} from "../../../src/server/cluster/log_publisher.ts";
import {
  connectNats,
  jetstreamManager,
} from "../../../src/server/cluster/nats.ts";

const NATS = await natsServerPath();

Deno.test({
  name:
    "LogPublisher acknowledges each of many records published together with its own sequence in publish order, holds more than MAX_IN_FLIGHT back, stores a repeated message id once, fails when no stream takes the subject and once closed",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "log-publisher-test");
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "T", subjects: ["t.>"] });
      const publisher = new LogPublisher(nc, "T");
      const count = MAX_IN_FLIGHT * 2 + 7;
      let most = 0;
      const acks = await Promise.all(
        Array.from({ length: count }, (_, i) => {
          const acked = publisher.publish(
            `t.${i % 3}`,
            new Uint8Array([i & 0xff]),
            null,
          );
          most = Math.max(most, publisher.inFlight);
          return acked;
        }),
      );
      assert.ok(most <= MAX_IN_FLIGHT, `${most} in flight`);
      assert.deepEqual(
        acks.map((ack) => ack.seq),
        Array.from({ length: count }, (_, i) => i + 1),
      );
      assert.ok(acks.every((ack) => !ack.duplicate));
      assert.equal(publisher.inFlight, 0);
      // What JetStream stored is what was sent, in that order.
      const stored = await jsm.streams.getMessage("T", { seq: 700 });
      assert.deepEqual([...stored!.data], [699 & 0xff]);

      const once = await publisher.publish("t.x", new Uint8Array(), "id-1");
      const again = await publisher.publish("t.x", new Uint8Array(), "id-1");
      assert.deepEqual(once, { seq: count + 1, duplicate: false });
      assert.deepEqual(again, { seq: count + 1, duplicate: true });

      await assert.rejects(
        publisher.publish("nowhere", new Uint8Array(), null),
        LogUnavailableError,
      );
      publisher.close();
      await assert.rejects(
        publisher.publish("t.x", new Uint8Array(), null),
        /The message log is closed/,
      );
    } finally {
      await nc.close();
    }
  },
});

Deno.test({
  name:
    "LogPublisher waits ACK_TIMEOUT_MS for an acknowledgement by the monotonic clock: a record in flight while Date.now jumps an hour forward is not failed",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "log-publisher-clock-test");
    const realNow = Date.now;
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "T", subjects: ["t.>"] });
      const publisher = new LogPublisher(nc, "T");
      // Frozen, JetStream cannot acknowledge: the record stays in flight.
      await nats.freeze();
      let outcome: string | null = null;
      const acked = publisher.publish("t.x", new Uint8Array([1]), null).then(
        (ack) => (outcome = `acked ${ack.seq}`),
        (error) => (outcome = String(error)),
      );
      Date.now = () => realNow() + 3_600_000;
      // Two of the publisher's sweeps (every ACK_TIMEOUT_MS / 5) see the
      // jumped clock: what is tested is that time, nothing to wait for.
      await new Promise((resolve) =>
        setTimeout(resolve, (2 * ACK_TIMEOUT_MS) / 5 + 200)
      );
      assert.equal(outcome, null);
      nats.signal("SIGCONT");
      await acked;
      assert.equal(outcome, "acked 1");
      publisher.close();
    } finally {
      Date.now = realNow;
      nats.signal("SIGCONT");
      await nc.close();
    }
  },
});
