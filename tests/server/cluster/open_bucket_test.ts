/**
 * Nodes started at the same moment against a fresh `nats-server -js` each
 * make the cluster's key-value buckets: one of two makers racing for a
 * bucket was refused by JetStream ("subjects overlap with an existing
 * stream", the other's stream made a moment before), and its `chat serve
 * --cluster` did not start (a final CI run's cluster_test, two nodes
 * started together). A real nats-server; skipped without one.
 */

import assert from "node:assert/strict";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import { connectNats, openBucket } from "../../../src/server/cluster/nats.ts";

const NATS = await natsServerPath();

Deno.test({
  name:
    "openBucket made by several nodes at once on a fresh NATS opens the one bucket for each of them",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nodes = await Promise.all(
      ["a", "b", "c", "d", "e", "f", "g", "h"].map((name) =>
        connectNats([nats.url], name)
      ),
    );
    try {
      for (let round = 0; round < 150; round++) {
        const name = `race_${round}`;
        const buckets = await Promise.all(
          nodes.map((nc) => openBucket(nc, name, 0)),
        );
        await buckets[0]!.put("k", new TextEncoder().encode(`v${round}`));
        for (const bucket of buckets) {
          const entry = await bucket.get("k");
          assert.equal(entry?.string(), `v${round}`);
        }
      }
    } finally {
      await Promise.all(nodes.map((nc) => nc.close()));
    }
  },
});
