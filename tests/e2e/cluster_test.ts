/**
 * Several `chat serve` nodes joined through NATS (issue 19): a real
 * `nats-server -js`, two real server processes sharing one key, and real
 * `chat connect --json` clients, one on each node.
 */

import assert from "node:assert/strict";
import { crash } from "../_helpers/nats.ts";
import {
  Cluster,
  type ClusterNode,
  natsForTest,
  untilGroupKnown,
} from "../_helpers/cluster.ts";
import { ChatProcess } from "../_helpers/process.ts";
import { Bot } from "../_helpers/json_bot.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import { RawTcp } from "../_helpers/raw_tcp.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import { join } from "node:path";
import { connectNats, openBucket } from "../../src/server/cluster/nats.ts";
import {
  NODES_BUCKET,
  PRESENCE_BUCKET,
} from "../../src/server/cluster/subjects.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_test");

/** How long a dead node's users stay listed, in seconds (--presence-ttl). */
const TTL_SECONDS = 2;

Deno.test({
  name:
    "chat serve --cluster: users on two nodes see each other in /list, chat publicly, privately and in a group across, a name bound on one node is refused on the other, a key signing in on another node takes over, a node started later learns groups and who is online, and a node killed with kill -9 drops out within the TTL",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster",
      presenceTtl: TTL_SECONDS,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const alice = await cluster.bot(a, "alice");
    const bob = await cluster.bot(b, "bob");

    // /list on either node shows the users of both.
    assert.deepEqual(
      await bob.waitForList((names) => names.includes("alice"), WAIT_MS),
      ["alice", "bob"],
    );
    assert.deepEqual(
      await alice.waitForList((names) => names.includes("bob"), WAIT_MS),
      ["alice", "bob"],
    );

    // Public across nodes, both ways; the sender is not sent their own.
    await alice.ask({ cmd: "send", text: "hello from A" }, "sent");
    await bob.chat.waitFor(
      /"type":"message","kind":"public","from":"alice","text":"hello from A"/,
    );
    await bob.ask({ cmd: "send", text: "hello from B" }, "sent");
    await alice.chat.waitFor(
      /"type":"message","kind":"public","from":"bob","text":"hello from B"/,
    );

    // Private across: online on the other node, not queued as offline.
    const sent = await bob.ask(
      { cmd: "msg", to: "alice", text: "psst from B" },
      "sent",
    );
    assert.equal(sent.note, undefined, JSON.stringify(sent));
    await alice.chat.waitFor(
      /"type":"message","kind":"private","from":"bob","text":"psst from B"/,
    );
    const privateEvent = alice.events().find((e) =>
      e.kind === "private" && e.text === "psst from B"
    )!;
    // Stored on alice's node under its own position, which she acknowledges.
    assert.equal(typeof privateEvent.id, "number");
    assert.equal(privateEvent.history, false);
    await alice.ask({ cmd: "msg", to: "bob", text: "psst from A" }, "sent");
    await bob.chat.waitFor(
      /"type":"message","kind":"private","from":"alice","text":"psst from A"/,
    );

    // Groups: made on node A, joined on node B once B has it, members
    // online on both nodes, messages both ways, each once.
    await alice.ask({ cmd: "create", group: "team" }, "ok");
    await untilGroupKnown(bob, "team");
    await bob.ask({ cmd: "join", group: "team" }, "ok");
    await alice.chat.waitFor(
      /"type":"membership","group":"team","name":"bob","joined":true/,
    );
    const members = (await alice.ask(
      { cmd: "members", group: "team" },
      "members",
    )).groups as { members: string[]; online: string[] }[];
    assert.deepEqual(members, [{
      group: "team",
      members: ["alice", "bob"],
      online: ["alice", "bob"],
    }]);
    await alice.ask({ cmd: "group", group: "team", text: "team A" }, "sent");
    await bob.chat.waitFor(
      /"type":"message","kind":"group","from":"alice","group":"team","text":"team A"/,
    );
    await bob.ask({ cmd: "group", group: "team", text: "team B" }, "sent");
    await alice.chat.waitFor(
      /"type":"message","kind":"group","from":"bob","group":"team","text":"team B"/,
    );

    // Each message once, however many nodes there are.
    const once: [Bot, string][] = [
      [alice, "hello from B"],
      [bob, "hello from A"],
      [alice, "psst from B"],
      [bob, "psst from A"],
      [bob, "team A"],
      [alice, "team B"],
    ];
    for (const [who, text] of once) {
      assert.equal(
        who.events().filter((e) => e.type === "message" && e.text === text)
          .length,
        1,
        who.chat.stdout,
      );
    }

    // Node B's history has what was said on node A.
    const history = await bob.ask({ cmd: "history" }, "ok");
    assert.match(
      String(history.text),
      /End of history for the public room \(2 messages\)/,
    );

    // A node started later learns the groups and who is online from the
    // buckets: dave on node C sees team with its two members online.
    const c = await cluster.node("c");
    const dave = await cluster.bot(c, "dave");
    assert.deepEqual(
      await dave.waitForList((names) => names.length === 3, WAIT_MS),
      ["alice", "bob", "dave"],
    );
    const late = (await dave.ask({ cmd: "members", group: "team" }, "members"))
      .groups;
    assert.deepEqual(late, [{
      group: "team",
      members: ["alice", "bob"],
      online: ["alice", "bob"],
    }]);

    // The name alice is bound to alice's key on node A: another key is
    // refused it on node B, whose own store never saw alice's key.
    const thief = new Bot(
      cluster.connect(b, "alice", { config: "thief" }),
    );
    await thief.chat.waitFor(
      /"type":"error".*The name 'alice' belongs to another identity key/,
    );
    assert.doesNotMatch(thief.chat.stdout, /"type":"welcome"/);

    // carol signs in on node A, then with the same key on node B: as on
    // one server, the newer session takes over the older.
    const carolA = await cluster.bot(a, "carol");
    await cluster.bot(b, "carol");
    await carolA.chat.waitFor(/you signed in from another place/);
    assert.deepEqual(
      await bob.waitForList((names) => names.includes("carol"), WAIT_MS),
      ["alice", "bob", "carol", "dave"],
    );

    // Node A dies without a word: alice drops out of bob's list within
    // the TTL (and a sweep), and bob is told she left.
    const killedAt = Date.now();
    await crash(a.process);
    assert.deepEqual(
      await bob.waitForList(
        (names) => !names.includes("alice"),
        TTL_SECONDS * 1000 * 3,
      ),
      ["bob", "carol", "dave"],
    );
    const gone = Date.now() - killedAt;
    assert.ok(gone <= TTL_SECONDS * 1000 * 2, `took ${gone} ms`);
    await bob.chat.waitFor(/"type":"presence","name":"alice","online":false/);

    // A private message to her now waits as for anyone offline.
    const queued = await bob.ask(
      { cmd: "msg", to: "alice", text: "later" },
      "sent",
    );
    assert.match(String(queued.note), /alice is offline/);
  },
});

Deno.test({
  name:
    "chat serve --cluster: a join sent in one frame with a message to the group reaches the other node (its member is told, and lists the joiner), though the joiner's node applies the message from the log before it answers",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-join",
    });
    const [a, b] = await cluster.nodes("a", "b");
    const alice = await cluster.bot(a, "alice");
    await alice.ask({ cmd: "create", group: "team" }, "ok");
    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(join(cluster.dir, "public.pem")),
    );
    await using bob = await RawClient.connect(`ws://${b.address}`, {
      pinnedSpki: spki,
    });
    assert.equal((await bob.register("bob")).t, "welcome");
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const groups = await bob.request({ t: "groups" });
      assert.equal(groups.t, "groups");
      if (groups.groups.some((group) => group.name === "team")) break;
      assert.ok(Date.now() < deadline, "node B never had group team");
    }
    // One frame, so one run on node B: the join commits, then the message
    // waits for the log, and node B applies it before it answers.
    const joinId = bob.nextId();
    const sayId = bob.nextId();
    bob.send(
      await bob.seal(
        { header: { t: "join", id: joinId, group: "team" } },
        {
          header: { t: "gsay", id: sayId, group: "team" },
          body: new TextEncoder().encode("hi team"),
        },
      ),
    );
    assert.equal((await bob.replyTo(joinId)).t, "ok");
    assert.equal((await bob.replyTo(sayId)).t, "ok");
    await alice.chat.waitFor(
      /"type":"message","kind":"group","from":"bob","group":"team","text":"hi team"/,
    );
    await alice.chat.waitFor(
      /"type":"membership","group":"team","name":"bob","joined":true/,
    );
    const members = (await alice.ask(
      { cmd: "members", group: "team" },
      "members",
    )).groups;
    assert.deepEqual(members, [{
      group: "team",
      members: ["alice", "bob"],
      online: ["alice", "bob"],
    }]);
  },
});

Deno.test({
  name:
    "chat admin release NAME --cluster frees the name on every node: a new key is refused it before, and takes it after on node A, whose own database bound the name to the old key; the old key is then refused on both nodes",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-release",
    });
    const [a, b] = await cluster.nodes("a", "b");
    const refused = async (node: ClusterNode, config: string) => {
      const chat = cluster.connect(node, "jojo", {
        config,
        args: ["--no-reconnect"],
      });
      await chat.waitFor(
        /"type":"error".*The name 'jojo' belongs to another identity key/,
      );
      assert.doesNotMatch(chat.stdout, /"type":"welcome"/);
    };
    const old = await cluster.bot(a, "jojo", { config: "old-key" });
    await old.chat.write(`${JSON.stringify({ cmd: "quit" })}\n`);
    await old.chat.finish();
    await refused(b, "new-key");

    const release = () =>
      cluster.track(
        new ChatProcess([
          "admin",
          "release",
          "jojo",
          "--cluster",
          cluster.nats.url,
        ]),
      );
    const released = release();
    assert.equal((await released.finish()).code, 0, released.stderr);
    assert.match(
      released.stdout,
      /^Released 'jojo' in the cluster \(it was bound to SHA256:\S+\): the next identity key to sign in with that name, on any node, will own it\.$/m,
    );
    const again = release();
    assert.equal((await again.finish()).code, 1);
    assert.match(
      again.stderr,
      /chat: The name 'jojo' is not bound to any key in the cluster/,
    );

    // Node A's own database still binds jojo to the old key: the cluster's
    // word wins there.
    await cluster.bot(a, "jojo", { config: "new-key" });
    await refused(a, "old-key");
    await refused(b, "old-key");
  },
});

Deno.test({
  name:
    "chat serve --cluster holds an address to --max-per-address across nodes: while node A holds its connections node B refuses it one more, and lets it in again once they close",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-address",
    });
    const limits = ["--max-per-address", "3", "--handshake-rate", "0"];
    const a = await cluster.node("a", ...limits);
    const b = await cluster.node("b", ...limits);
    // Every client here is 127.0.0.1: three on node A are the address's
    // limit for the whole cluster.
    const held = [];
    for (const user of ["u1", "u2", "u3"]) {
      held.push(await cluster.bot(a, user, { args: ["--no-reconnect"] }));
    }
    /** Asks node B for a WebSocket until `wanted` answers, for at most 10 s. */
    const probeUntil = async (wanted: RegExp) => {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const { tcp, head } = await RawTcp.upgrade(Number(b.port));
        tcp.close();
        if (wanted.test(head)) return head;
        assert.ok(Date.now() < deadline, `node B kept answering ${head}`);
      }
    };
    // Node B counts node A's connections from its next report (a second).
    await probeUntil(/^HTTP\/1\.1 503/);
    await b.process.waitFor(
      /refused a connection from 127\.0\.0\.1.*: too many connections from your address/,
    );
    for (const bot of held) {
      await bot.chat.write(`${JSON.stringify({ cmd: "quit" })}\n`);
      await bot.chat.finish();
    }
    await probeUntil(/^HTTP\/1\.1 101/);
    await cluster.bot(b, "u4");
  },
});

Deno.test({
  name:
    "chat serve --cluster: a node stopped with Ctrl-C removes its heartbeat and its users' entries from NATS before it exits, so the other nodes are told it is gone instead of waiting out the TTL",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-stop",
      presenceTtl: TTL_SECONDS,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const alice = await cluster.bot(a, "alice");
    await cluster.bot(b, "bob");
    await alice.waitForList((names) => names.includes("bob"), WAIT_MS);
    const id = /Node ([A-Za-z0-9]+) joined the cluster/.exec(
      b.process.stdout,
    )![1]!;

    b.process.kill("SIGINT");
    assert.equal((await b.process.finish()).code, 0);
    // What node B left in NATS once it exited: its goodbye, not a last
    // heartbeat that the other nodes would take for a node that died.
    const nc = await connectNats([cluster.nats.url], "cluster-test-probe");
    try {
      // Opened as the nodes open them (same settings), to read.
      const nodes = await openBucket(nc, NODES_BUCKET, TTL_SECONDS * 1000);
      const heartbeat = await nodes.get(id);
      assert.notEqual(heartbeat?.operation, "PUT", "node B's heartbeat");
      const presence = await openBucket(nc, PRESENCE_BUCKET, 0);
      const left: string[] = [];
      for await (const key of await presence.keys()) {
        if (key.endsWith(`.${id}`)) left.push(key);
      }
      assert.deepEqual(left, [], "node B's users' entries");
    } finally {
      await nc.close();
    }
    await alice.waitForList((names) => !names.includes("bob"), WAIT_MS);
  },
});
