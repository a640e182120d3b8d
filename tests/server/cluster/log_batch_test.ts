/**
 * The message log batched (issue 19, docs/SCALING.md "Batching"), against a
 * real `nats-server -js`: two nodes publishing bursts together, a third
 * reading; every record reaches the reader once, in sequence order, in
 * batches of more than one, and each node's records keep its order.
 */

import assert from "node:assert/strict";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import { APPLY_BATCH, ClusterLog } from "../../../src/server/cluster/log.ts";
import { connectNats } from "../../../src/server/cluster/nats.ts";

const NATS = await natsServerPath();
const body = new TextEncoder().encode("hi");
const PER_NODE = 1_500;

Deno.test({
  name:
    "ClusterLog: bursts published together by two nodes reach a third once each, in sequence order, in batches of at most APPLY_BATCH, and each node's records keep their order",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const connections = await Promise.all(
      ["a", "b", "reader"].map((name) => connectNats([nats.url], name)),
    );
    try {
      const [a, b, reader] = await Promise.all(
        connections.map((nc) => ClusterLog.open(nc, () => {})),
      );
      const seen: { seq: number; from: string; ts: number }[] = [];
      const batches: number[] = [];
      const lastsOff: number[] = [];
      reader!.start(1, (records, last) => {
        batches.push(records.length);
        for (const { seq, record } of records) {
          if (record.kind !== "public") continue;
          seen.push({ seq, from: record.from, ts: record.ts });
        }
        // Every record decoded here: a batch ends at its last record.
        if (records.at(-1)?.seq !== last) lastsOff.push(last);
      }).catch(() => {});
      const burst = (log: ClusterLog, from: string) =>
        Promise.all(
          Array.from(
            { length: PER_NODE },
            (_, ts) => log.publish({ kind: "public", from, ts, body }),
          ),
        );
      const [fromA, fromB] = await Promise.all([
        burst(a!, "a"),
        burst(b!, "b"),
      ]);
      // Each node's records are numbered in the order it sent them.
      for (const acks of [fromA, fromB]) {
        const seqs = acks.map((ack) => ack.seq);
        assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
      }
      await reader!.caughtUp(20_000);
      assert.deepEqual(
        seen.map((one) => one.seq),
        Array.from({ length: 2 * PER_NODE }, (_, i) => i + 1),
      );
      for (const from of ["a", "b"]) {
        assert.deepEqual(
          seen.filter((one) => one.from === from).map((one) => one.ts),
          Array.from({ length: PER_NODE }, (_, i) => i),
        );
      }
      assert.deepEqual(lastsOff, []);
      assert.ok(batches.every((size) => size <= APPLY_BATCH), `${batches}`);
      assert.ok(
        batches.length < seen.length,
        `${batches.length} batches for ${seen.length} records`,
      );
      for (const log of [a, b, reader]) log!.stop();
    } finally {
      await Promise.all(connections.map((nc) => nc.close()));
    }
  },
});
