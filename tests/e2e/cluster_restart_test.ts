/**
 * A NATS server that goes away and comes back (issue 19): the nodes keep
 * each other's users listed meanwhile (silence from NATS says nothing of
 * the other nodes), and messages and presence flow again once it is back;
 * a group change made meanwhile reaches the other node then, while a new
 * group is refused until then (its name cannot be checked with the others).
 * Real nats-server -js, killed with SIGKILL and restarted on its port with
 * its store; two real nodes; `chat connect --json` clients. In
 * `deno task test:slow`: it holds NATS down for longer than the TTL.
 */

import assert from "node:assert/strict";
import { Cluster, natsForTest, untilGroupKnown } from "../_helpers/cluster.ts";
import { GROUP_UNCHECKED_TEXT } from "../../src/server/group_name_claim.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_restart_test");

const TTL_SECONDS = 2;

Deno.test({
  name:
    "chat serve --cluster: while NATS is down for longer than the TTL the nodes keep each other's users listed, /create is refused, and chat, presence and a join made meanwhile flow again once it is back",
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
    await bob.waitForList((names) => names.includes("alice"), WAIT_MS);
    await bob.ask({ cmd: "create", group: "bobs" }, "ok");
    await untilGroupKnown(alice, "bobs");

    await nats.crash();
    await a.waitFor(/lost NATS/);
    await b.waitFor(/lost NATS/);
    // A join made meanwhile on node A reaches node B once NATS is back:
    // node A tries its change again until NATS answers.
    await alice.ask({ cmd: "join", group: "bobs" }, "ok");
    // A new group is not made meanwhile: its name cannot be checked with
    // the other nodes (a look-alike claimed there), as no one signs in.
    const refused = await alice.ask(
      { cmd: "create", group: "meanwhile" },
      "error",
    );
    assert.equal(refused.code, "internal");
    assert.equal(refused.text, GROUP_UNCHECKED_TEXT);
    // Down for three TTLs: node B hears nothing of node A all along, and
    // keeps alice listed (its clients are still served by it meanwhile).
    const downUntil = Date.now() + 3 * TTL_SECONDS * 1000;
    while (Date.now() < downUntil) {
      assert.deepEqual(await bob.listed(), ["alice", "bob"]);
    }
    await nats.restart();
    await a.waitFor(/NATS is reachable again/, WAIT_MS);
    await b.waitFor(/NATS is reachable again/, WAIT_MS);
    assert.deepEqual(await bob.listed(), ["alice", "bob"]);

    // Chat crosses again, and presence: carol signs in on node A.
    await alice.ask({ cmd: "send", text: "back again" }, "sent");
    await bob.chat.waitFor(/"from":"alice","text":"back again"/, WAIT_MS);
    await cluster.bot(nodeA, "carol");
    assert.deepEqual(
      await bob.waitForList((names) => names.includes("carol"), WAIT_MS),
      ["alice", "bob", "carol"],
    );
    await bob.chat.waitFor(
      /"type":"membership","group":"bobs","name":"alice","joined":true/,
      20_000,
    );
    await alice.ask({ cmd: "create", group: "meanwhile" }, "ok");
    await untilGroupKnown(bob, "meanwhile", WAIT_MS);
    // And nobody was taken for gone along the way.
    assert.doesNotMatch(a.stdout + b.stdout, /was not heard from/);
  },
});
