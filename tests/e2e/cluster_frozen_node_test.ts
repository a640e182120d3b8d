/**
 * A slow node (issue 19, README "Running several nodes"): node A frozen
 * with SIGSTOP for longer than the presence TTL, so that node B takes it
 * for dead, then let go on. A real `nats-server -js`, two real `chat serve
 * --cluster` nodes and real `chat connect --json` clients: alice on A,
 * bob on B.
 */

import assert from "node:assert/strict";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";

const NATS = await natsForTest("cluster_frozen_node_test");

/** How long a silent node's users stay listed, in seconds (--presence-ttl). */
const TTL_SECONDS = 2;

Deno.test({
  name:
    "a node frozen past the presence TTL and let go on: bob sees alice leave, then listed again, and what he sent her meanwhile reaches her once, in order",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-frozen-node",
      presenceTtl: TTL_SECONDS,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const alice = await cluster.bot(a, "alice");
    const bob = await cluster.bot(b, "bob");
    await bob.waitForList((names) => names.includes("alice"), 10_000);

    await a.process.freeze();
    try {
      await bob.waitForList(
        (names) => !names.includes("alice"),
        TTL_SECONDS * 1000 * 5,
      );
      for (let i = 1; i <= 3; i++) {
        await bob.ask(
          { cmd: "msg", to: "alice", text: `while frozen ${i}` },
          "sent",
        );
      }
      await bob.ask({ cmd: "send", text: "public while frozen" }, "sent");
    } finally {
      a.process.kill("SIGCONT");
    }

    await alice.chat.waitFor(/"text":"public while frozen"/, 20_000);
    const got = alice.events().filter((e) =>
      e.type === "message" && e.from === "bob"
    ).map((e) => String(e.text));
    assert.deepEqual(got, [
      "while frozen 1",
      "while frozen 2",
      "while frozen 3",
      "public while frozen",
    ], alice.chat.stdout);
    // alice is still signed in on A: bob lists her again.
    await bob.waitForList(
      (names) => names.includes("alice"),
      TTL_SECONDS * 1000 * 5,
    );
    await alice.ask({ cmd: "msg", to: "bob", text: "still here" }, "sent");
    await bob.chat.waitFor(/"from":"alice","text":"still here"/);
  },
});
