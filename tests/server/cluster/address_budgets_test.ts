/**
 * The hourly budgets of one address's accounts (account_budgets.ts: groups
 * created and joined, one-time prekeys) across the nodes of a cluster: an
 * address signed in on two nodes has the cluster's budget once, not one on
 * each (address_shares.ts, cluster/address_report.ts). A real NATS, two
 * real nodes (each its own NATS connection, store and listening socket),
 * real clients over sockets, all from 127.0.0.1: one address.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../../src/client/chat_client.ts";
import { fetchBundle } from "../../../src/client/e2e_keys.ts";
import type { AddressReport } from "../../../src/server/address_shares.ts";
import { ClusterNode } from "../../../src/server/cluster/node.ts";
import type { ClusterSink } from "../../../src/server/cluster/port.ts";
import {
  TOO_MANY_GROUPS_CREATED,
  TOO_MANY_GROUPS_JOINED,
} from "../../../src/server/router.ts";
import type { ServerLimits } from "../../../src/server/state.ts";
import type { ConnectionLimits } from "../../../src/server/config.ts";
import { TOO_MANY_SIGN_INS } from "../../../src/server/serve.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  type TestServer,
} from "../../_helpers/chat.ts";
import { e2ePeer } from "../../_helpers/e2e_peer.ts";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import { WAIT_MS } from "../../_helpers/patience.ts";

const NATS = await natsServerPath();

/**
 * A node of the cluster, and the address reports it has charged (from the
 * other nodes), to wait on: what another node took is then counted here.
 */
class Node {
  readonly charged: AddressReport[] = [];
  #wake: (() => void)[] = [];

  private constructor(
    readonly server: TestServer,
    readonly cluster: ClusterNode,
  ) {}

  static async start(
    url: string,
    limits: Partial<ServerLimits>,
    connectionLimits: Partial<ConnectionLimits> = {},
  ) {
    const cluster = await ClusterNode.start({
      urls: [url],
      presenceTtlMs: 15_000,
      log: () => {},
    });
    let node: Node | undefined;
    // The node itself, told of each report once it has charged it.
    const port = new Proxy(cluster, {
      get(target, key) {
        if (key === "attach") {
          return (sink: ClusterSink) =>
            target.attach({
              ...sink,
              addresses: (report) => {
                sink.addresses(report);
                node?.heard(report);
              },
            });
        }
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    try {
      const server = await startTestServer({
        cluster: port,
        // The test's clients are all on loopback, which is otherwise not held.
        connectionLimits: {
          limitNewNamesFromLoopback: true,
          ...connectionLimits,
        },
        limits,
      });
      node = new Node(server, cluster);
      return node;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** A report from another node, charged. */
  heard(report: AddressReport): void {
    this.charged.push(report);
    for (const wake of this.#wake.splice(0)) wake();
  }

  /**
   * Resolves once this node has charged reports whose budgets say at least
   * `least` (summed by `count`) taken elsewhere.
   */
  async chargedAtLeast(
    count: (report: AddressReport) => number,
    least: number,
  ): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (this.charged.reduce((sum, one) => sum + count(one), 0) < least) {
      const left = deadline - Date.now();
      assert.ok(left > 0, "never charged what the other node took");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((wake) => {
        this.#wake.push(wake);
        timer = setTimeout(wake, left);
      });
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.server.shutdown();
    await this.cluster.close();
  }
}

/** What `report` says 127.0.0.1's accounts took, by `pick`. */
function took(
  pick: (
    budgets: NonNullable<AddressReport["addresses"][0]["budgets"]>,
  ) => number,
): (report: AddressReport) => number {
  return (report) =>
    report.addresses.reduce(
      (sum, { group, budgets }) =>
        sum + (group === "127.0.0.1" && budgets ? pick(budgets) : 0),
      0,
    );
}

async function account(node: Node, name: string): Promise<ChatClient> {
  return (await TestClient.connect(node.server, name, await testIdentity()))
    .client;
}

/** The sign-ins `report` says 127.0.0.1 made. */
function signedIn(report: AddressReport): number {
  return report.addresses.reduce(
    (sum, { group, signIns }) =>
      sum + (group === "127.0.0.1" ? signIns ?? 0 : 0),
    0,
  );
}

function refusal(reply: Awaited<ReturnType<ChatClient["request"]>>) {
  return reply.t === "error" ? [reply.code, reply.text] : reply;
}

Deno.test({
  name:
    "an address signed in on two nodes of a cluster creates and joins groups within the cluster's hourly budget once, not one on each node",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const limits = {
      groupsCreatedPerHourPerAddress: 2,
      groupsJoinedPerHourPerAddress: 2,
    };
    await using a = await Node.start(nats.url, limits);
    await using b = await Node.start(nats.url, limits);
    const m1 = await account(a, "m1");
    const m2 = await account(b, "m2");
    const m3 = await account(a, "m3");
    try {
      assert.equal((await m1.request({ t: "create", group: "g1" })).t, "ok");
      assert.equal((await m1.request({ t: "create", group: "g2" })).t, "ok");
      // Node A's report of the two, charged on node B: the address has
      // none left there either.
      await b.chargedAtLeast(took(({ created }) => created), 2);
      assert.deepEqual(
        refusal(await m2.request({ t: "create", group: "g3" })),
        ["limit", TOO_MANY_GROUPS_CREATED],
      );
      assert.equal((await m3.request({ t: "join", group: "g1" })).t, "ok");
      assert.equal((await m3.request({ t: "join", group: "g2" })).t, "ok");
      await b.chargedAtLeast(took(({ joined }) => joined), 2);
      // Node B knows g1 (the groups bucket), so what refuses is the budget.
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const groups = await m2.request({ t: "groups" });
        if (
          groups.t === "groups" &&
          groups.groups.some(({ name }) => name === "g1")
        ) break;
        assert.ok(Date.now() < deadline, "node B never had g1");
      }
      assert.deepEqual(
        refusal(await m2.request({ t: "join", group: "g1" })),
        ["limit", TOO_MANY_GROUPS_JOINED],
      );
    } finally {
      for (const client of [m1, m2, m3]) await client.quit();
    }
  },
});

Deno.test({
  name:
    "an address signed in on two nodes of a cluster takes one user's one-time prekeys within the cluster's hourly budget once",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const limits = {
      oneTimeKeysPerHourPerOwnerPerAddress: 2,
      oneTimeKeysPerHourPerAddress: 100,
    };
    await using a = await Node.start(nats.url, limits);
    await using b = await Node.start(nats.url, limits);
    const bob = await e2ePeer(a.server, "bob");
    const d1 = await account(a, "d1");
    const d2 = await account(a, "d2");
    const d3 = await account(b, "d3");
    try {
      const taken = async (client: ChatClient) =>
        (await fetchBundle(client, "bob")).bundle.oneTime.length;
      assert.equal(await taken(d1), 1);
      assert.equal(await taken(d2), 1);
      await b.chargedAtLeast(
        took(({ prekeys }) =>
          prekeys.reduce(
            (sum, [owner, count]) => sum + (owner === "bob" ? count : 0),
            0,
          )
        ),
        2,
      );
      // The address's two of bob's went on node A: node B's bundle comes
      // without one.
      assert.equal(await taken(d3), 0);
    } finally {
      for (const client of [d1, d2, d3]) await client.quit();
      await bob.client.quit();
    }
  },
});

Deno.test({
  name:
    "an address signing in on two nodes of a cluster has the cluster's sign-in rate once, not one on each node",
  ignore: NATS === null,
  async fn() {
    // Every sign-in is told to the users of every node: one node's rate
    // alone let an address that went from node to node sign in (and out)
    // as many times more as there were nodes.
    await using nats = await startNats(NATS!);
    const connectionLimits = {
      // One a minute after a burst of 3: no token comes back in the test.
      signInsPerMinutePerAddress: 1,
      signInBurstPerAddress: 3,
    };
    await using a = await Node.start(nats.url, {}, connectionLimits);
    await using b = await Node.start(nats.url, {}, connectionLimits);
    const signedInOnA = [
      await account(a, "m1"),
      await account(a, "m2"),
      await account(a, "m3"),
    ];
    try {
      // Node A's report of the three, charged on node B: the address has
      // none left there either.
      await b.chargedAtLeast(signedIn, 3);
      const client = await ChatClient.connect(b.server.url, {
        pinnedSpki: b.server.spki,
      });
      try {
        assert.deepEqual(
          refusal(await client.register("m4", await testIdentity())),
          ["limit", TOO_MANY_SIGN_INS],
        );
      } finally {
        await client.quit();
      }
    } finally {
      for (const client of signedInOnA) await client.quit();
    }
  },
});
