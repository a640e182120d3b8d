/**
 * A connection whose line waits for NATS stays alive (docs/PROTOCOL.md 5.7,
 * `alive`): a real `nats-server -js`, two real `chat serve --cluster` nodes,
 * alice's client on node A (the reference client, in this process, with a
 * shorter ping interval: it gives up after 24 s without a frame, as
 * `chat connect` does after 60 s) and bob's `chat connect --json` on node B.
 * Before, node A read nothing more from alice's connection while her line
 * waited for NATS, her pings too, and sent nothing: her client said "The
 * server stopped answering." and signed in again, which a node without NATS
 * refuses. Now the node says it is there every 10 s of the wait.
 */

import assert from "node:assert/strict";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_nats_away_alive_test");

/** Twice this without a frame, and alice's client gives up. */
const PING_INTERVAL_MS = 12_000;

Deno.test({
  name:
    "a client whose line waits for NATS longer than it waits for a silent server keeps its connection, and the line is sent once NATS is back",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-nats-away-alive",
      presenceTtl: 2,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const alice = await cluster.probe(a, "alice", {
      pingIntervalMs: PING_INTERVAL_MS,
    });
    try {
      let alive = 0;
      const threeAlive = Promise.withResolvers<null>();
      alice.onMessage(({ message }) => {
        if (message.t === "alive" && ++alive === 3) threeAlive.resolve(null);
      });
      const bob = await cluster.bot(b, "bob");
      await bob.waitForList((names) => names.includes("alice"), WAIT_MS);
      assert.equal((await alice.say("before", "a1".repeat(8))).t, "ok");
      await bob.chat.waitFor(/"text":"before"/);

      await cluster.nats.crash();
      const answer = alice.say("while away", "a2".repeat(8));
      // Past the silence her client allows (2 x 12 s) and a check more:
      // until three `alive` came (30 s), or her client gave up.
      const outcome = await Promise.race([
        threeAlive.promise,
        alice.ended.then((ending) => ending.reason),
      ]);
      assert.equal(outcome, null, `alice's client gave up: ${outcome}`);
      assert.equal(alice.isOver, false);

      await cluster.nats.restart();
      const reply = await answer;
      assert.equal(reply.t, "ok", JSON.stringify(reply));
      await bob.chat.waitFor(/"text":"while away"/, 2 * WAIT_MS);
      assert.equal((await alice.say("the end", "a3".repeat(8))).t, "ok");
      await bob.chat.waitFor(/"text":"the end"/, WAIT_MS);
      const got = bob.events().filter((e) =>
        e.type === "message" && e.from === "alice"
      ).map((e) => String(e.text));
      assert.deepEqual(
        got,
        ["before", "while away", "the end"],
        bob.chat.stdout,
      );
    } finally {
      if (!alice.isOver) await alice.quit();
    }
  },
});
