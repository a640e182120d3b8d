/**
 * On a cluster, a client cut off from its node is shown, once back on the
 * other node, the public messages said meanwhile on any node: the message
 * log is shared, and its ids are the same on every node, so the cursor the
 * client took on one node means the same on the other
 * (src/client/missed_public.ts, docs/PROTOCOL.md 5.4 `after`). A real
 * `nats-server -js`, two real `chat serve --cluster` nodes and real
 * `chat connect --json` clients; jojo reaches each node through a proxy
 * that cuts it off and refuses it while sophia talks.
 */

import assert from "node:assert/strict";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";

const NATS = await natsForTest("cluster_missed_public_test");

Deno.test({
  name:
    "chat connect on a cluster, cut off from node A and back on node B, shows the public messages said meanwhile once each, in order",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-missed",
    });
    const [a, b] = await cluster.nodes("a", "b");
    const toA = new GateProxy(Number(a.port));
    const toB = new GateProxy(Number(b.port));
    try {
      // jojo knows both nodes; the first answers.
      toB.down = true;
      const jojo = await cluster.bot(
        `127.0.0.1:${toA.port},127.0.0.1:${toB.port}`,
        "jojo",
      );
      const sophia = await cluster.bot(b, "sophia");
      await sophia.ask({ cmd: "send", text: "before the cut" }, "sent");
      await jojo.chat.waitFor(/"text":"before the cut"/);

      toA.cut();
      await jojo.chat.waitFor(/"type":"connection","state":"lost"/);
      for (const text of ["missed one", "missed two", "missed three"]) {
        await sophia.ask({ cmd: "send", text }, "sent");
      }
      toB.down = false;
      await jojo.chat.waitFor(
        new RegExp(
          `"type":"connection","state":"reconnected".*"server":"127\\.0\\.0\\.1:${toB.port}"`,
        ),
        30_000,
      );
      await jojo.chat.waitFor(/"text":"missed three"/);
      await sophia.ask({ cmd: "send", text: "live after" }, "sent");
      await jojo.chat.waitFor(/"text":"live after"/);

      const events = jojo.events();
      const back = events.findIndex((event) =>
        event.type === "connection" && event.state === "reconnected"
      );
      const after = events.slice(back + 1).filter((event) =>
        event.type === "message" ||
        (event.type === "notice" && event.text === "While you were away:")
      ).map((event) => String(event.text));
      assert.deepEqual(after, [
        "While you were away:",
        "missed one",
        "missed two",
        "missed three",
        "live after",
      ]);
      assert.equal(jojo.chat.stdout.split('"text":"before the cut"').length, 2);
    } finally {
      await toA.close();
      await toB.close();
    }
  },
});
