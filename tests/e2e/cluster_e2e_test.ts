/**
 * End to end across the nodes of a cluster (issue 19): a real
 * `nats-server -js`, two real `chat serve --cluster` processes sharing one
 * key, real `chat connect` clients on each. Prekey bundles live in the
 * cluster's bucket, so alice on node A and bob on node B exchange private
 * and group messages end to end, which neither node's database or log can
 * read; and two nodes fetching the same user's bundle at once never hand
 * out the same one-time key.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { ChatClient } from "../../src/client/chat_client.ts";
import { fetchBundle } from "../../src/client/e2e_keys.ts";
import {
  Cluster,
  joinWhenKnown,
  natsForTest,
  untilKeysKnown,
} from "../_helpers/cluster.ts";
import { allBytes } from "../_helpers/all_bytes.ts";

const NATS = await natsForTest("cluster_e2e_test");

Deno.test({
  name:
    "chat serve --cluster: alice on node A and bob on node B exchange private and group messages end to end, which no node's database or log holds, and two nodes never hand out one one-time key twice",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-e2e",
    });
    const { dir } = cluster;
    const [nodeA, nodeB] = await cluster.nodes("a", "b");
    const [a, b] = [nodeA.process, nodeB.process];
    const [portA, portB] = [nodeA.port, nodeB.port];
    const connect = (port: string, user: string) =>
      cluster.connect(`127.0.0.1:${port}`, user, { json: false });
    const probes: ChatClient[] = [];
    try {
      const alice = connect(portA, "alice");
      const bob = connect(portB, "bob");
      await alice.waitFor(/SUCCESS: Username registered\./);
      await bob.waitFor(/SUCCESS: Username registered\./);
      // Each one's keys, published on their node, reach the other node.
      const onA = await cluster.probe(nodeA, "probea");
      const onB = await cluster.probe(nodeB, "probeb");
      probes.push(onA, onB);
      await untilKeysKnown(onB, "alice");
      await untilKeysKnown(onA, "bob");

      await alice.write("/msg bob the owl flies at midnight\n");
      await bob.waitFor(
        /Private message from alice: the owl flies at midnight/,
      );
      await bob.write("/msg alice bring the lantern\n");
      await alice.waitFor(/Private message from bob: bring the lantern/);
      await alice.write("/msg bob and the map\n");
      await bob.waitFor(/Private message from alice: and the map/);

      // A group made on node A, joined on node B once B has it.
      await alice.write("/create team\n");
      await alice.waitFor(/Group 'team' created/);
      await joinWhenKnown(bob, "team");
      await alice.waitFor(/bob joined group team/i);
      await alice.write("/group team the eagle lands at dawn\n");
      await bob.waitFor(
        /\[Receive group team message from alice\]: the eagle lands at dawn/,
      );
      await bob.write("/group team bring the blue kite\n");
      await alice.waitFor(
        /\[Receive group team message from bob\]: bring the blue kite/,
      );
      assert.doesNotMatch(
        alice.stdout + bob.stdout,
        /host of the server can read|not end.to.end/,
      );

      // Fetched through both nodes at once, each one-time key goes once:
      // by eight people, as one requester takes at most one of a user's
      // keys per publish (PROTOCOL 11.2).
      const takers = await Promise.all(
        Array.from(
          { length: 8 },
          (_, i) => cluster.probe(i % 2 === 0 ? nodeA : nodeB, `taker${i}`),
        ),
      );
      probes.push(...takers);
      const fetched = await Promise.all(
        takers.map((taker) => fetchBundle(taker, "alice")),
      );
      const ids = fetched.flatMap((one) =>
        one.bundle.oneTime.map((key) => key.id)
      );
      assert.equal(ids.length, 8, "every fetch got a one-time key");
      assert.equal(new Set(ids).size, ids.length, `handed out twice: ${ids}`);

      for (const p of [alice, bob]) {
        await p.write("/quit\n");
        await p.finish();
      }
      for (const server of [a, b]) {
        server.kill("SIGTERM");
        await server.finish();
      }
      const stored = await allBytes(join(dir, "a")) +
        await allBytes(join(dir, "b"));
      assert.ok(stored.length > 0);
      const log = a.stdout + a.stderr + b.stdout + b.stderr;
      for (
        const secret of ["owl flies", "lantern", "the map", "eagle", "kite"]
      ) {
        assert.ok(!stored.includes(secret), `a database holds '${secret}'`);
        assert.ok(!log.includes(secret), `a log holds '${secret}'`);
      }
    } finally {
      for (const client of probes) client.abort();
    }
  },
});
