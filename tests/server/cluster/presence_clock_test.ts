/**
 * ClusterPresence judges other nodes alive on the monotonic clock, against a
 * real `nats-server -js`: a wall clock set back does not keep a dead node's
 * users listed.
 */

import assert from "node:assert/strict";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import { connectNats, openBucket } from "../../../src/server/cluster/nats.ts";
import { ClusterPresence } from "../../../src/server/cluster/presence.ts";
import type { ClusterSink } from "../../../src/server/cluster/port.ts";
import { presenceKey } from "../../../src/server/cluster/subjects.ts";

const NATS = await natsServerPath();
const TTL_MS = 1500;

Deno.test({
  name:
    "ClusterPresence takes a node that stopped beating for dead after the TTL while Date.now has jumped an hour back",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "presence-clock-test");
    const realNow = Date.now;
    const logs: string[] = [];
    const presence = new ClusterPresence(
      await openBucket(nc, "test_presence", 0),
      await openBucket(nc, "test_nodes", TTL_MS),
      "a",
      TTL_MS,
      (line) => logs.push(line),
    );
    try {
      // The test is node b: one heartbeat and one user, then no more (a
      // crash, no goodbye).
      const users = await openBucket(nc, "test_presence", 0);
      const nodes = await openBucket(nc, "test_nodes", TTL_MS);
      await nodes.put("b", String(Date.now()));
      await users.put(
        presenceKey("bob", "b"),
        new TextEncoder().encode(JSON.stringify({
          name: "bob",
          node: "b",
          connectedAt: Date.now(),
          lastMessageAt: null,
          fingerprint: null,
          away: null,
        })),
      );
      const seen = Promise.withResolvers<void>();
      const gone = Promise.withResolvers<string>();
      const sink: Partial<ClusterSink> = {
        sessions: () => [],
        seen: (entry) => {
          if (entry === presenceKey("bob", "b")) seen.resolve();
        },
        gone: () => {},
        nodeGone: (node) => gone.resolve(node),
      };
      await presence.start(sink as ClusterSink);
      // a knows b (from bob's entry), as heard from before the jump.
      await seen.promise;
      Date.now = () => realNow() - 3_600_000;
      // A bound, not a pace: ten TTLs.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outcome = await Promise.race([
        gone.promise,
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve("still alive"), 10 * TTL_MS);
        }),
      ]);
      clearTimeout(timer);
      assert.equal(outcome, "b", logs.join("\n"));
    } finally {
      Date.now = realNow;
      await presence.stop();
      await nc.close();
    }
  },
});
