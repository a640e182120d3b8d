/**
 * The replies to one frame's messages on a node of a cluster come in the
 * order of its requests (docs/PROTOCOL.md 4.2 and 5.2), also when a chat
 * message's `ok` waits for the shared log and a later `e2e_bundle` or
 * `e2e_keys` is answered from the prekeys bucket, another round trip. A
 * real NATS, two real nodes, real clients over sockets.
 */

import assert from "node:assert/strict";
import type { Reply } from "../../../src/client/chat_client.ts";
import { encodeBundle } from "../../../src/crypto/prekeys.ts";
import { ClusterNode } from "../../../src/server/cluster/node.ts";
import { openStore } from "../../../src/store/sqlite_store.ts";
import { startTestServer, type TestServer } from "../../_helpers/chat.ts";
import { e2ePeer } from "../../_helpers/e2e_peer.ts";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";

const NATS = await natsServerPath();

async function startNode(
  url: string,
): Promise<TestServer & { cluster: ClusterNode }> {
  const cluster = await ClusterNode.start({
    urls: [url],
    presenceTtlMs: 15_000,
    log: () => {},
  });
  const store = openStore(":memory:");
  try {
    const server = await startTestServer({ store, cluster });
    return Object.assign(server, {
      cluster,
      async [Symbol.asyncDispose]() {
        await server.shutdown();
        await cluster.close();
        store.close();
      },
    });
  } catch (error) {
    await cluster.close();
    store.close();
    throw error;
  }
}

Deno.test({
  name:
    "a cluster node answers a frame's say, then e2e_bundle or e2e_keys, in that order: the keys' reply does not overtake the ok that waits for the log",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    await using a = await startNode(nats.url);
    await using b = await startNode(nats.url);
    // bob's keys are published on the other node: in the shared bucket.
    const bob = await e2ePeer(b, "bob");
    const alicePeer = await e2ePeer(a, "alice");
    const alice = alicePeer.client;
    try {
      const text = (line: string) => new TextEncoder().encode(line);
      const inOrder = async (
        second: () => Promise<{ reply: Reply }>,
        answer: string,
      ) => {
        const order: string[] = [];
        const noted = <T extends { t: string } | { reply: Reply }>(
          reply: Promise<T>,
        ) =>
          reply.then((one) => {
            const t = "reply" in one ? one.reply.t : one.t;
            order.push(t);
            return one;
          });
        // Asked in one tick: one frame (the channel packs what is queued).
        // In two frames nothing could overtake: the node reads the next
        // frame once the replies to the last one are out.
        const said = noted(alice.request({ t: "say" }, text("hello")));
        const keys = noted(second());
        await Promise.all([said, keys]);
        assert.deepEqual(order, ["ok", answer]);
      };
      for (let round = 0; round < 5; round++) {
        await inOrder(
          () => alice.requestWithBody({ t: "e2e_bundle", name: "bob" }),
          "e2e_bundle",
        );
        await inOrder(
          () =>
            alice.requestWithBody(
              { t: "e2e_keys" },
              text(JSON.stringify(encodeBundle(alicePeer.keyring.bundle))),
            ),
          "e2e_keys",
        );
      }
    } finally {
      await alice.quit();
      await bob.client.quit();
    }
  },
});
