/**
 * Failover between the nodes of a cluster (issue 19): a real
 * `nats-server -js`, two real `chat serve --cluster` processes sharing one
 * key, and real `chat connect --json` clients; one is given both nodes'
 * addresses, and its node is killed with kill -9.
 */

import assert from "node:assert/strict";
import { crash } from "../_helpers/nats.ts";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_failover_test");

/** How long a dead node's users stay listed, in seconds (--presence-ttl). */
const TTL_SECONDS = 2;

Deno.test({
  name:
    "chat connect with two nodes' addresses: when its node is killed with kill -9 it says it reconnected to the other, keeps chatting there, and a message there is not dropped as a duplicate of one with the same id on the dead node",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-failover",
      presenceTtl: TTL_SECONDS,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const portA = a.port;
    const portB = b.port;
    // alice knows both nodes; the first answers.
    const alice = await cluster.bot(`${a.address},${b.address}`, "alice");
    assert.match(
      alice.chat.stdout + alice.chat.stderr,
      new RegExp(`Connected to 127\\.0\\.0\\.1:${portA}`),
    );
    const carol = await cluster.bot(a, "carol");
    const bob = await cluster.bot(b, "bob");
    await bob.waitForList((names) => names.includes("alice"), WAIT_MS);

    // carol writes to alice on node A only: node A's ids run ahead of
    // node B's, so that node B's next ids are ones alice has seen there.
    for (let i = 1; i <= 12; i++) {
      await carol.ask(
        { cmd: "msg", to: "alice", text: `from carol ${i}` },
        "sent",
      );
    }
    await alice.chat.waitFor(/"from":"carol","text":"from carol 12"/);
    await bob.ask({ cmd: "msg", to: "alice", text: "before" }, "sent");
    await alice.chat.waitFor(/"from":"bob","text":"before"/);
    const seenOnA = new Set(
      alice.events().filter((e) => e.type === "message")
        .map((e) => e.id as number),
    );

    // Node A dies without a word: alice comes back on node B and says so.
    await crash(a.process);
    await alice.chat.waitFor(
      new RegExp(
        `"type":"connection","state":"reconnected".*"server":"127\\.0\\.0\\.1:${portB}"`,
      ),
      30_000,
    );

    // She keeps chatting there, both ways, and what is sent to her there
    // reaches her once.
    await alice.ask({ cmd: "send", text: "back on B" }, "sent");
    await bob.chat.waitFor(
      /"kind":"public","from":"alice","text":"back on B"/,
    );
    for (let i = 1; i <= 5; i++) {
      await bob.ask({ cmd: "msg", to: "alice", text: `after ${i}` }, "sent");
    }
    await alice.chat.waitFor(/"from":"bob","text":"after 5"/);
    const after = alice.events().filter((e) =>
      e.type === "message" && String(e.text).startsWith("after ")
    );
    assert.deepEqual(
      after.map((e) => e.text),
      ["after 1", "after 2", "after 3", "after 4", "after 5"],
      alice.chat.stdout,
    );
    // One position space (the cluster's log): node B numbers after every
    // id alice saw on node A, so nothing new there can pass for a message
    // she has shown.
    const lastOnA = Math.max(...seenOnA);
    assert.ok(
      after.every((e) => (e.id as number) > lastOnA),
      `node B's ids ${after.map((e) => e.id)} not past node A's ${lastOnA}`,
    );
    assert.equal(
      alice.events().filter((e) => e.text === "before").length,
      1,
    );
    assert.deepEqual(
      await bob.waitForList(
        (names) => names.includes("alice") && !names.includes("carol"),
        TTL_SECONDS * 1000 * 3,
      ),
      ["alice", "bob"],
    );
  },
});
