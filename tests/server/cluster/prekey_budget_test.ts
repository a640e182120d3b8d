/**
 * What the connections of one address take of one user's one-time prekeys
 * (docs/PROTOCOL.md 11.2, account_budgets.ts) on a node of a cluster, whose
 * bundles are in the shared bucket: counted there too, by the node, as on a
 * single server. A real NATS, a real node, real clients over sockets.
 */

import assert from "node:assert/strict";
import type { ChatClient } from "../../../src/client/chat_client.ts";
import { fetchBundle } from "../../../src/client/e2e_keys.ts";
import { ClusterNode } from "../../../src/server/cluster/node.ts";
import { openStore } from "../../../src/store/sqlite_store.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
} from "../../_helpers/chat.ts";
import { e2ePeer } from "../../_helpers/e2e_peer.ts";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";

const NATS = await natsServerPath();

Deno.test({
  name:
    "a cluster node holds one address to a few of one user's one-time keys an hour, whatever identities it makes",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const cluster = await ClusterNode.start({
      urls: [nats.url],
      presenceTtlMs: 15_000,
      log: () => {},
    });
    const store = openStore(":memory:");
    try {
      await using server = await startTestServer({
        store,
        cluster,
        // The test's clients are all on loopback, which is otherwise not held.
        connectionLimits: { limitNewNamesFromLoopback: true },
        limits: {
          oneTimeKeysPerHourPerOwnerPerAddress: 2,
          oneTimeKeysPerHourPerAddress: 100,
        },
      });
      const bob = await e2ePeer(server, "bob");
      const drainers = await Promise.all(
        ["m1", "m2", "m3", "m4"].map(async (name) =>
          await TestClient.connect(server, name, await testIdentity())
        ),
      );
      try {
        const taken = async (client: ChatClient) =>
          (await fetchBundle(client, "bob")).bundle.oneTime.length;
        const [m1, m2, m3, m4] = drainers.map(({ client }) => client);
        assert.equal(await taken(m1!), 1);
        assert.equal(await taken(m2!), 1);
        // The address's two of bob's are gone: the bundle still comes,
        // without one.
        assert.equal(await taken(m3!), 0);
        assert.equal(await taken(m4!), 0);
      } finally {
        for (const drainer of drainers) await drainer.quit();
        await bob.client.quit();
      }
    } finally {
      await cluster.close();
      store.close();
    }
  },
});
