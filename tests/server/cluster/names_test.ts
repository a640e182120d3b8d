/**
 * Look-alike names and the one namespace of people and groups across the
 * nodes of a cluster (cluster/names.ts, skeleton_claims.ts), against a real
 * `nats-server -js`: two server cores, each a node with its own store, and
 * peers signing in over in-memory connections.
 */

import assert from "node:assert/strict";
import {
  natsServerPath,
  type RestartableNats,
  startNats,
} from "../../_helpers/nats.ts";
import { core, freshIdentity, Peer } from "../../_helpers/core_peer.ts";
import { ClusterNode } from "../../../src/server/cluster/node.ts";
import {
  ClusterNames,
  releaseClusterName,
} from "../../../src/server/cluster/names.ts";
import { connectNats, openBucket } from "../../../src/server/cluster/nats.ts";
import {
  groupRecordKey,
  GROUPS_BUCKET,
  nameBindingKey,
  NAMES_BUCKET,
} from "../../../src/server/cluster/subjects.ts";
import {
  encodeGroupRecord,
  parseGroupRecord,
} from "../../../src/server/cluster/group_record.ts";
import { PENDING_CLAIM_MS } from "../../../src/server/cluster/skeleton_claims.ts";
import { GROUP_UNCHECKED_TEXT } from "../../../src/server/group_name_claim.ts";
import { identityFingerprint } from "../../../src/crypto/identity.ts";
import {
  groupNameUserRefusal,
  lookalikeRefusal,
} from "../../../src/server/identity_gate.ts";
import { userNameGroupRefusal } from "../../../src/server/router.ts";
import type { ServerCore } from "../../../src/server/serve.ts";
import type { ServerMessage } from "../../../src/protocol/messages.ts";

const NATS = await natsServerPath();

/** A test against a `nats-server -js` of its own; skipped without one. */
function natsTest(
  name: string,
  fn: (nats: RestartableNats) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: NATS === null,
    async fn() {
      await using nats = await startNats(NATS!);
      await fn(nats);
    },
  });
}

/** What a node's cluster part logged, and waits for a line of it. */
class NodeLog {
  readonly #lines: string[] = [];
  #waiters: (() => void)[] = [];

  add(line: string): void {
    this.#lines.push(line);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once a line matching `pattern` is logged. */
  async until(pattern: RegExp): Promise<void> {
    while (!this.#lines.some((line) => pattern.test(line))) {
      await new Promise<void>((wake) => this.#waiters.push(wake));
    }
  }
}

/** A node of the cluster at `url`: a core with a store of its own. */
class Node {
  private constructor(
    readonly core: ServerCore,
    readonly cluster: ClusterNode,
    readonly logged: NodeLog,
  ) {}

  static async start(url: string): Promise<Node> {
    const logged = new NodeLog();
    const cluster = await ClusterNode.start({
      urls: [url],
      presenceTtlMs: 15_000,
      log: (line) => logged.add(line),
    });
    const { core: started } = await core({ cluster });
    return new Node(started, cluster, logged);
  }

  /** Signs in as `name` with `identity`: the welcome, or the refusal. */
  async signIn(
    name: string,
    identity: Awaited<ReturnType<typeof freshIdentity>>,
  ): Promise<{ peer: Peer; reply: ServerMessage }> {
    const peer = await Peer.connect(this.core);
    const begun = await peer.begin(name, identity);
    if ("refused" in begun) return { peer, reply: begun.refused };
    const reply = await peer.request({
      t: "prove",
      signature: begun.signature,
    });
    return { peer, reply };
  }

  /** Stopped: its users are offline for the other nodes. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.core.stop();
    await this.cluster.close();
  }
}

/** Signs `peer` out; resolves once the server has closed the connection. */
async function leave(peer: Peer): Promise<void> {
  peer.send({ t: "bye" });
  await peer.done;
}

type Bucket = Awaited<ReturnType<typeof openBucket>>;

/**
 * The names bucket of the cluster at `url`, over a connection of the test's
 * own (`nc`, for other buckets), closed on dispose.
 */
async function namesBucket(url: string) {
  const nc = await connectNats([url], "names-test");
  try {
    const kv = await openBucket(nc, NAMES_BUCKET, 0);
    return { nc, kv, [Symbol.asyncDispose]: () => nc.close() };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/** `kv` with `create` in place of its own (which `create` may call). */
function createReplaced(
  kv: Bucket,
  create: (key: string, value: string) => Promise<number>,
): Bucket {
  return new Proxy(kv, {
    get(target, property) {
      if (property === "create") return create;
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

natsTest(
  "a cluster node refuses a look-alike of a name bound on another node whose owner left, with the one-node text, and lets that owner's key take it",
  async (nats) => {
    const alice = await freshIdentity();
    {
      await using a = await Node.start(nats.url);
      const { peer, reply } = await a.signIn("alice", alice);
      assert.equal(reply.t, "welcome", JSON.stringify(reply));
      await leave(peer);
    }
    // Node b never saw alice online, nor bound her in its store.
    await using b = await Node.start(nats.url);
    const refused = await b.signIn("a1ice", await freshIdentity());
    assert.deepEqual(refused.reply, {
      t: "error",
      re: 2,
      code: "identity",
      text: lookalikeRefusal("a1ice", "alice"),
    });
    await leave(refused.peer);
    // A key may hold look-alikes of its own names.
    const own = await b.signIn("a1ice", alice);
    assert.equal(own.reply.t, "welcome", JSON.stringify(own.reply));
    await leave(own.peer);
  },
);

natsTest(
  "a cluster node refuses /create of a user's name (or a look-alike) bound on another node whose owner left, and a new user named like a group made on another node",
  async (nats) => {
    {
      await using a = await Node.start(nats.url);
      const bob = await a.signIn("bob", await freshIdentity());
      assert.equal(bob.reply.t, "welcome", JSON.stringify(bob.reply));
      await leave(bob.peer);
      const carol = await a.signIn("carol", await freshIdentity());
      assert.equal(
        (await carol.peer.request({ t: "create", group: "team" })).t,
        "ok",
      );
      await leave(carol.peer);
    }
    await using b = await Node.start(nats.url);
    const dave = await b.signIn("dave", await freshIdentity());
    assert.equal(dave.reply.t, "welcome", JSON.stringify(dave.reply));
    for (const group of ["bob", "b0b"]) {
      const created = await dave.peer.request({ t: "create", group });
      assert.equal(created.t === "error" && created.code, "name_taken");
      assert.equal(
        created.t === "error" && created.text,
        userNameGroupRefusal(group, "bob"),
      );
    }
    // The claims of refused groups block no one: dave's own group works.
    assert.equal(
      (await dave.peer.request({ t: "create", group: "dave_s" })).t,
      "ok",
    );
    await leave(dave.peer);
    const tearn = await b.signIn("tearn", await freshIdentity());
    assert.equal(
      tearn.reply.t === "error" && tearn.reply.text,
      groupNameUserRefusal("tearn", "team"),
    );
    await leave(tearn.peer);
  },
);

natsTest(
  "two cluster nodes racing for look-alike names under two keys, or a user and a group of one name, give each name to exactly one",
  async (nats) => {
    await using a = await Node.start(nats.url);
    await using b = await Node.start(nats.url);
    const creator = await a.signIn("zed", await freshIdentity());
    assert.equal(creator.reply.t, "welcome", JSON.stringify(creator.reply));
    const pairs = [
      ["alice", "a1ice"],
      ["mallory", "rnallory"],
      ["neil", "nell"],
      ["oscar", "0scar"],
      ["wendy", "vvendy"],
    ] as const;
    // Every challenge is answered first: the proofs then race.
    const begun = await Promise.all(
      pairs.flatMap((names) =>
        names.map(async (name, side) => {
          const node = side === 0 ? a : b;
          const peer = await Peer.connect(node.core);
          const identity = await freshIdentity();
          const started = await peer.begin(name, identity);
          assert.ok("signature" in started, JSON.stringify(started));
          return { peer, signature: started.signature };
        })
      ),
    );
    // …and one group on node a against a user of that name on node b.
    const user = await Peer.connect(b.core);
    const userBegun = await user.begin("quinn", await freshIdentity());
    assert.ok("signature" in userBegun);
    const [proven, group, userReply] = await Promise.all([
      Promise.all(
        begun.map(({ peer, signature }) =>
          peer.request({ t: "prove", signature })
        ),
      ),
      creator.peer.request({ t: "create", group: "quinn" }),
      user.request({ t: "prove", signature: userBegun.signature }),
    ]);
    for (const [index, names] of pairs.entries()) {
      const replies = proven.slice(2 * index, 2 * index + 2);
      assert.equal(
        replies.filter((reply) => reply.t === "welcome").length,
        1,
        `${names.join(" and ")}: ${JSON.stringify(replies)}`,
      );
      const refused = replies.find((reply) => reply.t === "error");
      assert.equal(refused?.t === "error" && refused.code, "identity");
    }
    assert.equal(
      [group.t, userReply.t].filter((t) => t === "ok" || t === "welcome")
        .length,
      1,
      JSON.stringify([group, userReply]),
    );
    await Promise.all(
      [...begun.map(({ peer }) => peer), user, creator.peer].map(leave),
    );
  },
);

natsTest(
  "ClusterNames.recordOlderBindings records the names bound before skeletons were claimed, once for the cluster, so their look-alikes are refused on any node",
  async (nats) => {
    const alice = await freshIdentity();
    {
      await using bucket = await namesBucket(nats.url);
      // As a node of an older version bound it: by its exact name only.
      await bucket.kv.create(
        nameBindingKey("alice"),
        await identityFingerprint(alice.publicRaw),
      );
      const names = new ClusterNames(bucket.kv, "test");
      assert.equal(await names.recordOlderBindings(), 1);
      assert.equal(await names.recordOlderBindings(), null);
    }
    await using node = await Node.start(nats.url);
    const refused = await node.signIn("a1ice", await freshIdentity());
    assert.equal(
      refused.reply.t === "error" && refused.reply.text,
      lookalikeRefusal("a1ice", "alice"),
    );
    await leave(refused.peer);
    const own = await node.signIn("alice", alice);
    assert.equal(own.reply.t, "welcome", JSON.stringify(own.reply));
    await leave(own.peer);
  },
);

natsTest(
  "ClusterNames.claim drops the skeleton claim it made when the binding then fails, so the name is not held for a key it was never bound to",
  async (nats) => {
    await using bucket = await namesBucket(nats.url);
    const { kv } = bucket;
    // NATS fails the binding's write, after the skeleton's went through.
    const binding = nameBindingKey("alice");
    const failing = createReplaced(
      kv,
      (key, value) =>
        key === binding
          ? Promise.reject(new Error("connection lost"))
          : kv.create(key, value),
    );
    const first = await identityFingerprint(
      (await freshIdentity()).publicRaw,
    );
    await assert.rejects(
      new ClusterNames(failing, "test").claim("alice", "alice", first),
      /connection lost/,
    );
    const names = new ClusterNames(kv, "test");
    assert.equal(await names.owner("alice"), null);
    // Another key may have the name, and its look-alikes are its own.
    const second = await identityFingerprint(
      (await freshIdentity()).publicRaw,
    );
    assert.deepEqual(await names.claim("alice", "alice", second), {
      kind: "bound",
      fingerprint: second,
    });
    assert.deepEqual(await names.claim("a1ice", "a1ice", first), {
      kind: "lookalike",
      name: "alice",
    });
  },
);

natsTest(
  "a cluster node refuses /create while it cannot reach NATS, with internal and a text saying to try again, as it refuses a sign-in, and makes the group once NATS is back",
  async (nats) => {
    await using a = await Node.start(nats.url);
    const dave = await a.signIn("dave", await freshIdentity());
    assert.equal(dave.reply.t, "welcome", JSON.stringify(dave.reply));
    await nats.crash();
    await a.logged.until(/lost NATS/);
    try {
      assert.deepEqual(
        await dave.peer.request({ t: "create", group: "offline1" }),
        {
          t: "error",
          re: 3,
          code: "internal",
          text: GROUP_UNCHECKED_TEXT,
        },
      );
    } finally {
      await nats.restart();
    }
    // Once the node is connected again, the group is made.
    await a.logged.until(/NATS is reachable again/);
    assert.equal(
      (await dave.peer.request({ t: "create", group: "offline1" })).t,
      "ok",
    );
    await leave(dave.peer);
  },
);

/** Identity-key fingerprints of two fresh keys. */
async function twoFingerprints(): Promise<[string, string]> {
  return [
    await identityFingerprint((await freshIdentity()).publicRaw),
    await identityFingerprint((await freshIdentity()).publicRaw),
  ];
}

/**
 * `kv` whose create of `binding` waits for `release()` before it goes
 * through: a node stalled there, or dead when never released. `reached`
 * resolves once it is asked for, that is once its skeleton is claimed.
 */
function bindingHeld(
  kv: Bucket,
  binding: string,
): { kv: typeof kv; reached: Promise<void>; release(): void } {
  const reached = Promise.withResolvers<void>();
  const released = Promise.withResolvers<void>();
  const held = createReplaced(kv, async (key, value) => {
    if (key === binding) {
      reached.resolve();
      await released.promise;
    }
    return await kv.create(key, value);
  });
  return {
    kv: held,
    reached: reached.promise,
    release: () => released.resolve(),
  };
}

/**
 * Node "slow" claiming alice for a key of its own, stalled before it writes
 * the binding (`stalled.release()` lets it go on; `lateClaim` is its claim's
 * outcome), and node "fast" (`names`, for key `fast`) whose clock says that
 * claim is PENDING_CLAIM_MS old: one it may take over.
 */
async function slowClaimOfAlice(kv: Bucket) {
  const [slow, fast] = await twoFingerprints();
  const start = 1_000_000;
  const stalled = bindingHeld(kv, nameBindingKey("alice"));
  const lateClaim = new ClusterNames(stalled.kv, "slow", () => start)
    .claim("alice", "alice", slow);
  await stalled.reached;
  const names = new ClusterNames(kv, "fast", () => start + PENDING_CLAIM_MS);
  return { fast, stalled, lateClaim, names };
}

natsTest(
  "ClusterNames.claim takes over a look-alike's pending claim whose node died before binding it, once PENDING_CLAIM_MS old and not before",
  async (nats) => {
    await using bucket = await namesBucket(nats.url);
    const { kv } = bucket;
    const [dead, other] = await twoFingerprints();
    const start = 1_000_000;
    // Node "gone" claims alice, and dies before its binding is written.
    const gone = bindingHeld(kv, nameBindingKey("alice"));
    new ClusterNames(gone.kv, "gone", () => start)
      .claim("alice", "alice", dead).catch(() => {});
    await gone.reached;
    let clock = start + PENDING_CLAIM_MS - 1;
    const names = new ClusterNames(kv, "live", () => clock);
    // Until it is PENDING_CLAIM_MS old, its claim holds (its node may
    // be only slow).
    assert.deepEqual(await names.claim("a1ice", "a1ice", other), {
      kind: "lookalike",
      name: "alice",
    });
    clock = start + PENDING_CLAIM_MS;
    assert.deepEqual(await names.claim("a1ice", "a1ice", other), {
      kind: "bound",
      fingerprint: other,
    });
    assert.equal(await names.owner("alice"), null);
    // The family is the new key's now: its look-alikes are its own.
    assert.deepEqual(await names.claim("alice", "alice", other), {
      kind: "bound",
      fingerprint: other,
    });
  },
);

natsTest(
  "ClusterNames.claim of a node too slow to bind in PENDING_CLAIM_MS, whose claim was taken over meanwhile, deletes its late binding and is refused the look-alike",
  async (nats) => {
    await using bucket = await namesBucket(nats.url);
    const { kv } = bucket;
    const { fast, stalled, lateClaim, names } = await slowClaimOfAlice(kv);
    assert.deepEqual(await names.claim("a1ice", "a1ice", fast), {
      kind: "bound",
      fingerprint: fast,
    });
    // The slow node binds alice now, and finds its claim gone.
    stalled.release();
    assert.deepEqual(await lateClaim, { kind: "lookalike", name: "a1ice" });
    assert.equal(await names.owner("alice"), null);
    assert.equal(await names.owner("a1ice"), fast);
  },
);

natsTest(
  "ClusterNames.claim of a node too slow to bind in PENDING_CLAIM_MS, whose claim another key took over for the same name and bound, leaves that key's claim: its look-alikes stay refused",
  async (nats) => {
    await using bucket = await namesBucket(nats.url);
    const { kv } = bucket;
    const { fast, stalled, lateClaim, names } = await slowClaimOfAlice(kv);
    const [third] = await twoFingerprints();
    // Another key takes the stale claim over for alice itself, and
    // binds and confirms it.
    assert.deepEqual(await names.claim("alice", "alice", fast), {
      kind: "bound",
      fingerprint: fast,
    });
    // The slow node's binding comes late, and finds alice bound to fast.
    stalled.release();
    assert.deepEqual(await lateClaim, { kind: "bound", fingerprint: fast });
    // Only the slow key's claim went: alice's look-alikes are still hers.
    assert.deepEqual(await names.claim("a1ice", "a1ice", third), {
      kind: "lookalike",
      name: "alice",
    });
  },
);

natsTest(
  "ClusterNames.recordOlderGroups records the groups made before skeletons were claimed, once for the cluster, so their look-alikes are refused as user and group names",
  async (nats) => {
    await using bucket = await namesBucket(nats.url);
    const { kv } = bucket;
    const groups = await openBucket(bucket.nc, GROUPS_BUCKET, 0);
    // As a node of an older version made it: in the groups bucket only.
    await groups.create(
      groupRecordKey("team"),
      encodeGroupRecord({
        name: "team",
        createdBy: "carol",
        createdAt: 1,
        members: ["carol"],
      }),
    );
    const names = new ClusterNames(kv, "test");
    assert.equal(await names.recordOlderGroups(groups), 1);
    assert.equal(await names.recordOlderGroups(groups), null);
    const [fingerprint] = await twoFingerprints();
    assert.deepEqual(await names.claim("tearn", "tearn", fingerprint), {
      kind: "group",
      name: "team",
    });
    assert.deepEqual(await names.claimGroup("tearn", "dave"), {
      kind: "group",
      name: "team",
    });
  },
);

natsTest(
  "ClusterNames.claim binds a name never bound as version 1 (the fingerprint), and one bound again after a release as version 2, with where the message log ended then, which every later claim of the name answers with (only the claim that made it says so)",
  async (nats) => {
    await using bucket = await namesBucket(nats.url);
    const { kv } = bucket;
    const since = 1796000000000;
    const names = new ClusterNames(
      kv,
      "test",
      () => since,
      () => Promise.resolve(41),
    );
    const [first, second] = await Promise.all([
      freshIdentity().then((key) => identityFingerprint(key.publicRaw)),
      freshIdentity().then((key) => identityFingerprint(key.publicRaw)),
    ]);
    const entry = async () => (await kv.get(nameBindingKey("jojo")))?.string();

    assert.deepEqual(await names.claim("jojo", "jojo", first), {
      kind: "bound",
      fingerprint: first,
    });
    assert.equal(await entry(), first);

    assert.equal(await names.release("jojo"), first);
    const cut = { fingerprint: second, after: 41, since };
    const bound = { kind: "bound", fingerprint: second, cut };
    assert.deepEqual(await names.claim("jojo", "jojo", second), {
      ...bound,
      made: true,
    });
    assert.equal(
      await entry(),
      `{"v":2,"fingerprint":"${second}","after":41,"since":${since}}`,
    );
    assert.deepEqual(await names.claim("jojo", "jojo", second), bound);
    assert.deepEqual(await names.claim("jojo", "jojo", first), bound);
    assert.equal(await names.owner("jojo"), second);
    assert.equal(await names.release("jojo"), second);
  },
);

natsTest(
  "releaseClusterName takes the name out of every group in the groups bucket, with a journal entry every node follows, and leaves other groups and an unbound name's alone",
  async (nats) => {
    const nc = await connectNats([nats.url], "names-test");
    try {
      const names = await openBucket(nc, NAMES_BUCKET, 0);
      const groups = await openBucket(nc, GROUPS_BUCKET, 0);
      const record = (name: string, members: string[]) =>
        encodeGroupRecord({ name, createdBy: "amy", createdAt: 1, members });
      await groups.create(
        groupRecordKey("lab"),
        record("lab", ["amy", "Jojo"]),
      );
      await groups.create(groupRecordKey("den"), record("den", ["jojo"]));
      await groups.create(groupRecordKey("pub"), record("pub", ["amy"]));
      const members = async (group: string) =>
        parseGroupRecord((await groups.get(groupRecordKey(group)))!.value);

      // Not bound: nothing is released, no group changes.
      assert.equal(await releaseClusterName([nats.url], "jojo"), null);
      assert.deepEqual((await members("den")).members, ["jojo"]);

      const fingerprint = await identityFingerprint(
        (await freshIdentity()).publicRaw,
      );
      await names.create(nameBindingKey("jojo"), fingerprint);
      assert.deepEqual(await releaseClusterName([nats.url], "JOJO"), {
        was: fingerprint,
        groups: ["den", "lab"],
      });
      const lab = await members("lab");
      assert.deepEqual(lab.members, ["amy"]);
      assert.deepEqual(lab.changes, [
        { n: 1, member: "Jojo", joined: false, node: "chatadmin" },
      ]);
      assert.deepEqual((await members("den")).members, []);
      assert.deepEqual((await members("pub")).members, ["amy"]);
    } finally {
      await nc.close();
    }
  },
);
