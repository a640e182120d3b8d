/**
 * A NATS server that goes away and comes back (issue 19): the nodes keep
 * each other's users listed meanwhile (silence from NATS says nothing of
 * the other nodes), and messages and presence flow again once it is back.
 * Real nats-server -js, killed with SIGKILL and restarted on its port with
 * its store; two real nodes; `chat connect --json` clients. In
 * `deno task test:slow`: it holds NATS down for longer than the TTL.
 */

import assert from "node:assert/strict";
import { Cluster, natsForTest, untilGroupKnown } from "../_helpers/cluster.ts";

const NATS = await natsForTest("cluster_restart_test");

const TTL_SECONDS = 2;

Deno.test({
  name:
    "chat serve --cluster: while NATS is down for longer than the TTL the nodes keep each other's users listed, and chat, presence and a group made meanwhile flow again once it is back",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-restart",
      presenceTtl: TTL_SECONDS,
    });
    const { nats } = cluster;
    const [nodeA, nodeB] = await cluster.nodes("a", "b");
    const a = nodeA.process;
    const b = nodeB.process;
    const alice = await cluster.bot(nodeA, "alice");
    const bob = await cluster.bot(nodeB, "bob");
    await bob.waitForList((names) => names.includes("alice"), 10_000);

    await nats.crash();
    await a.waitFor(/lost NATS/);
    await b.waitFor(/lost NATS/);
    // A group made meanwhile on node A reaches node B once NATS is back:
    // node A tries its change again until NATS answers.
    await alice.ask({ cmd: "create", group: "meanwhile" }, "ok");
    // Down for three TTLs: node B hears nothing of node A all along, and
    // keeps alice listed (its clients are still served by it meanwhile).
    const downUntil = Date.now() + 3 * TTL_SECONDS * 1000;
    while (Date.now() < downUntil) {
      assert.deepEqual(await bob.listed(), ["alice", "bob"]);
    }
    await nats.restart();
    await a.waitFor(/NATS is reachable again/, 20_000);
    await b.waitFor(/NATS is reachable again/, 20_000);
    assert.deepEqual(await bob.listed(), ["alice", "bob"]);

    // Chat crosses again, and presence: carol signs in on node A.
    await alice.ask({ cmd: "send", text: "back again" }, "sent");
    await bob.chat.waitFor(/"from":"alice","text":"back again"/, 20_000);
    await cluster.bot(nodeA, "carol");
    assert.deepEqual(
      await bob.waitForList((names) => names.includes("carol"), 20_000),
      ["alice", "bob", "carol"],
    );
    await untilGroupKnown(bob, "meanwhile", 20_000);
    // And nobody was taken for gone along the way.
    assert.doesNotMatch(a.stdout + b.stdout, /was not heard from/);
  },
});
