/**
 * Signing in on a node of a cluster (createCore with a cluster port), where
 * a sign-in waits for the node to catch up with the message log: what the
 * sign-in checked before that wait is checked again after it.
 */

import assert from "node:assert/strict";
import type {
  ClusterPort,
  ClusterSink,
} from "../../src/server/cluster/port.ts";
import { identityFingerprint } from "../../src/crypto/identity.ts";
import {
  lookalikeRefusal,
  type NameClaim,
} from "../../src/server/identity_gate.ts";
import type { GroupNameClaim } from "../../src/server/cluster/skeleton_claims.ts";
import type { NameBinding } from "../../src/server/cluster/name_binding.ts";
import { core, freshIdentity, Peer } from "../_helpers/core_peer.ts";

/**
 * A cluster of this one node, whose log waits until the test lets it catch
 * up: the sign-ins waiting there are counted.
 */
class HeldCluster implements ClusterPort {
  readonly #names = new Map<string, string>();
  readonly #held: (() => void)[] = [];
  #counted: { count: number; resolve: () => void } | null = null;
  #seq = 0;
  readonly log: ClusterPort["log"] = {
    id: "held-log",
    position: 0,
    stopped: false,
    publish: () => Promise.resolve({ seq: ++this.#seq, duplicate: false }),
    applied: () => Promise.resolve(),
    caughtUp: () =>
      new Promise<void>((resolve) => {
        this.#held.push(resolve);
        if (this.#counted && this.#held.length >= this.#counted.count) {
          this.#counted.resolve();
        }
      }),
  };
  readonly prekeys = {
    publish: () =>
      Promise.resolve({ kind: "stored", oneTime: 0, changed: true } as const),
    take: () => Promise.resolve(null),
  };
  /** What this node was told to call with other nodes' news. */
  sink: ClusterSink | null = null;
  attach(sink: ClusterSink): void {
    this.sink = sink;
  }
  publish(): void {}
  fileAnswer(): void {}
  shareAddresses(): void {}
  groupsChanged(): void {}
  joined(): void {}
  left(): void {}
  claimName(
    _name: string,
    key: string,
    fingerprint: string,
  ): Promise<NameClaim> {
    if (!this.#names.has(key)) this.#names.set(key, fingerprint);
    return Promise.resolve({
      kind: "bound",
      fingerprint: this.#names.get(key)!,
    });
  }
  claimGroupName(): Promise<GroupNameClaim> {
    return Promise.resolve({ kind: "claimed", added: true });
  }
  releaseGroupName(): Promise<void> {
    return Promise.resolve();
  }
  nameBinding(key: string): Promise<NameBinding | null> {
    const fingerprint = this.#names.get(key);
    return Promise.resolve(fingerprint === undefined ? null : { fingerprint });
  }

  /** Resolves once `count` sign-ins wait for the log. */
  waiting(count: number): Promise<void> {
    if (this.#held.length >= count) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#counted = { count, resolve };
    return promise;
  }

  /** The log has caught up: every sign-in waiting for it goes on. */
  catchUp(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }
}

Deno.test("on a cluster node, the same key signing in twice while the log catches up: the newer takes over, as on one server", async () => {
  const cluster = new HeldCluster();
  const { core: server } = await core({ cluster });
  const key = await freshIdentity();
  const older = await Peer.connect(server, "10.0.0.1");
  const newer = await Peer.connect(server, "10.0.0.2");
  try {
    const first = await older.begin("alice", key);
    const second = await newer.begin("alice", key);
    assert.ok("signature" in first && "signature" in second);
    const olderId = older.send({ t: "prove", signature: first.signature });
    await cluster.waiting(1);
    const newerId = newer.send({ t: "prove", signature: second.signature });
    await cluster.waiting(2);
    cluster.catchUp();
    const olderReply = await older.next((m) => "re" in m && m.re === olderId);
    const newerReply = await newer.next((m) => "re" in m && m.re === newerId);
    assert.equal(olderReply.message.t, "welcome");
    assert.equal(
      newerReply.message.t,
      "welcome",
      JSON.stringify(newerReply.message),
    );
    const bye = await older.next((m) => m.t === "bye");
    assert.equal(bye.message.t === "bye" && bye.message.reason, "replaced");
  } finally {
    await server.stop();
  }
});

Deno.test("on a cluster node, a new name that looks like a user's online on another node is refused to any other key, and not to theirs", async () => {
  const cluster = new HeldCluster();
  const { core: server } = await core({ cluster });
  const alice = await freshIdentity();
  // alice is signed in on node n2 only: this node's store never bound her.
  cluster.sink!.seen("alice.n2", {
    name: "alice",
    nameKey: "alice",
    node: "n2",
    connectedAt: 1,
    lastMessageAt: null,
    fingerprint: await identityFingerprint(alice.publicRaw),
    away: null,
  });
  const peer = await Peer.connect(server);
  try {
    const refused = await peer.begin("a1ice", await freshIdentity());
    assert.ok("refused" in refused);
    assert.deepEqual(refused.refused, {
      t: "error",
      re: 1,
      code: "identity",
      text: lookalikeRefusal("a1ice", "alice"),
    });
    // Her own key may: it gets its challenge.
    assert.ok("signature" in await peer.begin("a1ice", alice));
  } finally {
    await server.stop();
  }
});

/** A cluster whose names bucket binds every name from a log position this node never reaches. */
class PastTheLogCluster extends HeldCluster {
  override readonly log: ClusterPort["log"] = {
    id: "past-the-log",
    position: 1,
    stopped: false,
    publish: () => Promise.resolve({ seq: 1, duplicate: false }),
    applied: (seq: number) =>
      Promise.reject(new Error(`not read back up to ${seq} (at 1)`)),
    caughtUp: () => Promise.resolve(),
  };
  override claimName(
    _name: string,
    _key: string,
    fingerprint: string,
  ): Promise<NameClaim> {
    return Promise.resolve({
      kind: "bound",
      fingerprint,
      cut: { fingerprint, after: 1_000_000_000, since: 1 },
    });
  }
}

Deno.test("on a cluster node, a name the names bucket binds from a log position this node has not applied is refused as a server failure, and the log tells the operator what to do", async () => {
  const { core: server, logs } = await core({
    cluster: new PastTheLogCluster(),
  });
  const peer = await Peer.connect(server);
  try {
    const begun = await peer.begin("jojo", await freshIdentity());
    assert.ok("signature" in begun);
    const id = peer.send({ t: "prove", signature: begun.signature });
    const reply = await peer.next((m) => "re" in m && m.re === id);
    assert.equal(reply.message.t === "error" && reply.message.code, "internal");
    assert.ok(
      logs.some((line) =>
        line.includes("jojo was not signed in") &&
        line.includes("from log position 1000000000") &&
        line.includes("chat admin release jojo --cluster")
      ),
      logs.join("\n"),
    );
  } finally {
    await server.stop();
  }
});
