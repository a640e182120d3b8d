/**
 * A request that waits on NATS other than a line (a group's name claimed
 * through the names bucket, group_name_claim.ts; a bundle taken from the
 * prekeys bucket, e2e_keys.ts) never leaves its client in a silence it
 * takes for a dead server: a real `nats-server -js`, frozen (SIGSTOP: its
 * socket open, nothing answered, the worst case for a NATS client), a real
 * `chat serve --cluster` node, alice's client on it (the reference client,
 * in this process, with a shorter ping interval: it gives up after 24 s
 * without a frame, as `chat connect` does after 60 s). Each round trip
 * ends at the NATS client's request timeout (5 s), answered with an error
 * that says to try again, and her connection stays; once NATS goes on,
 * the same requests are done. Any wait longer than 10 s would have the
 * node's `alive` every 10 s (connection_loop.ts `keptAlive`, the one
 * helper for every wait for NATS).
 */

import assert from "node:assert/strict";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import type { Request } from "../../src/client/chat_client.ts";

const NATS = await natsForTest("cluster_nats_away_waits_test");

/** Twice this without a frame, and alice's client gives up. */
const PING_INTERVAL_MS = 12_000;

Deno.test({
  name:
    "a group name claim and a prekey bundle asked while NATS is frozen are answered within the silence a client allows, and done once NATS goes on",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-nats-away-waits",
      presenceTtl: 2,
    });
    const [a] = await cluster.nodes("a");
    const alice = await cluster.probe(a, "alice", {
      pingIntervalMs: PING_INTERVAL_MS,
    });
    const bob = await cluster.probe(a, "bob");
    let frozen = false;
    try {
      // bob's keys are there for alice to take one.
      const asks: { what: string; request: Request; refused: RegExp }[] = [
        {
          what: "create",
          request: { t: "create", group: "lab" },
          refused: /could not check that group name/,
        },
        {
          what: "e2e_bundle",
          request: { t: "e2e_bundle", name: "bob" },
          refused: /could not reach its keys|no_keys|has no/,
        },
      ];
      await cluster.nats.freeze();
      frozen = true;
      for (const { what, request, refused } of asks) {
        const started = performance.now();
        const outcome = await Promise.race([
          alice.request(request),
          alice.ended.then((ending) => ending.reason),
        ]);
        const ms = Math.round(performance.now() - started);
        console.log(`${what} while NATS is frozen: answered in ${ms} ms`);
        assert.equal(typeof outcome, "object", `${what}: ${outcome}`);
        const reply = outcome as { t: string; text?: string };
        assert.equal(reply.t, "error", JSON.stringify(reply));
        assert.match(reply.text ?? "", refused);
        assert.ok(ms < PING_INTERVAL_MS, `${what}: ${ms} ms`);
        assert.equal(alice.isOver, false);
      }
      cluster.nats.signal("SIGCONT");
      frozen = false;
      // NATS back: the claim is made (the keys bucket answers too).
      const created = await alice.request({ t: "create", group: "lab" });
      assert.equal(created.t, "ok", JSON.stringify(created));
      assert.equal(alice.isOver, false);
    } finally {
      if (frozen) cluster.nats.signal("SIGCONT");
      if (!alice.isOver) await alice.quit();
      if (!bob.isOver) await bob.quit();
    }
  },
});
