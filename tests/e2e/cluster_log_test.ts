/**
 * History, offline delivery and positions shared through JetStream (issue
 * 19 items 2-3): a real `nats-server -js`, two real server processes that
 * share one key and each their own database, and real `chat connect
 * --json` clients that move between the nodes.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { listeningPort, serveProcess } from "../_helpers/process.ts";
import { crash } from "../_helpers/nats.ts";
import {
  Cluster,
  type ClusterNode,
  natsForTest,
  untilGroupKnown,
} from "../_helpers/cluster.ts";
import { Bot, type JsonEvent } from "../_helpers/json_bot.ts";

const NATS = await natsForTest("cluster_log_test");

Deno.test({
  name:
    "chat serve --cluster: a private and a group message sent on node A to a user offline (known to A though they only signed in on B) are delivered once when they sign in on node B, under the same ids as on A; /history on B shows what was said on A; what was acknowledged on B is not sent again on A; a message acknowledged by node A before it is killed with kill -9 reaches its recipient on node B exactly once",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-log",
      presenceTtl: 2,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const connect = (node: ClusterNode, user: string) =>
      cluster.bot(node, user, { args: ["--no-reconnect"] });
    const quit = async (bot: Bot) => {
      await bot.chat.write(`${JSON.stringify({ cmd: "quit" })}\n`);
      await bot.chat.finish();
    };
    const messages = (bot: Bot, text: string) =>
      bot.events().filter((e) => e.type === "message" && e.text === text);

    // alice on A makes a group; bob, on B only, joins it and leaves.
    const alice = await connect(a, "alice");
    await alice.ask({ cmd: "create", group: "team" }, "ok");
    let bob = await connect(b, "bob");
    await untilGroupKnown(bob, "team");
    await bob.ask({ cmd: "join", group: "team" }, "ok");
    await alice.chat.waitFor(
      /"type":"membership","group":"team","name":"bob","joined":true/,
    );
    await quit(bob);
    await alice.chat.waitFor(/"type":"presence","name":"bob","online":false/);

    // Said on A while bob is offline everywhere: A knows bob (he only
    // ever signed in on B) and keeps it for him.
    const queued = await alice.ask(
      { cmd: "msg", to: "bob", text: "psst while away" },
      "sent",
    );
    assert.match(String(queued.note), /bob is offline/);
    await alice.ask(
      { cmd: "group", group: "team", text: "team while away" },
      "sent",
    );
    await alice.ask({ cmd: "send", text: "public on A" }, "sent");
    // dave only ever signed in on B and is in no group: A knows him too.
    const dave = await connect(b, "dave");
    await quit(dave);
    const forDave = await alice.ask(
      { cmd: "msg", to: "dave", text: "for dave" },
      "sent",
    );
    assert.match(String(forDave.note), /dave is offline/);
    // Where A put them: its history shows the positions.
    await alice.ask({ cmd: "history", target: "bob" }, "ok");
    const onA = messages(alice, "psst while away")
      .find((e) => e.history === true);
    assert.ok(onA !== undefined, alice.chat.stdout);

    // bob signs in on B: each waiting message once, as history, with the
    // position A gave it.
    bob = await connect(b, "bob");
    await bob.chat.waitFor(/"text":"psst while away"/);
    await bob.chat.waitFor(/"text":"team while away"/);
    // A round trip: anything sent twice would have arrived by now.
    await bob.ask({ cmd: "list" }, "users");
    const missed = messages(bob, "psst while away");
    assert.equal(missed.length, 1, bob.chat.stdout);
    assert.equal(missed[0]!.history, true);
    assert.equal(missed[0]!.id, onA.id);
    assert.equal(missed[0]!.seq, onA.seq);
    assert.equal(messages(bob, "team while away").length, 1);

    // /history on B has what was said on A.
    await bob.ask({ cmd: "history" }, "ok");
    await bob.chat.waitFor(/"text":"public on A"/);
    const publicB = messages(bob, "public on A");
    assert.equal(publicB.length, 1);
    await alice.ask({ cmd: "history" }, "ok");
    const publicOnA = messages(alice, "public on A").at(-1) as JsonEvent;
    assert.equal(publicB[0]!.id, publicOnA.id, alice.chat.stdout);

    // Live across nodes still works, and each once.
    await alice.ask({ cmd: "msg", to: "bob", text: "live psst" }, "sent");
    await bob.chat.waitFor(/"text":"live psst"/);

    // bob acknowledged on B (a goodbye acknowledges what was shown):
    // signing in on A, he is sent none of it again.
    await quit(bob);
    bob = await connect(a, "bob");
    await bob.ask({ cmd: "list" }, "users");
    for (const text of ["psst while away", "team while away", "live psst"]) {
      assert.deepEqual(messages(bob, text), [], bob.chat.stdout);
    }
    await quit(bob);

    // A stores a message (its `ok` says so) and is killed at once: bob,
    // signing in on B, gets it exactly once.
    await alice.chat.waitFor(/"type":"presence","name":"bob","online":false/);
    await alice.ask(
      { cmd: "msg", to: "bob", text: "before the crash" },
      "sent",
    );
    await crash(a.process);
    bob = await connect(b, "bob");
    await bob.chat.waitFor(/"text":"before the crash"/);
    await bob.ask({ cmd: "list" }, "users");
    assert.equal(messages(bob, "before the crash").length, 1);
    await quit(bob);
  },
});

Deno.test({
  name:
    "chat serve --cluster refuses a database that holds messages the cluster's log does not (a single node's), saying what to do",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-log",
    });
    const data = join(cluster.dir, "single");
    const single = cluster.track(
      serveProcess(cluster.dir, 0, "--data", data),
    );
    const port = await listeningPort(single);
    const alice = await cluster.bot(`127.0.0.1:${port}`, "alice");
    const chat = alice.chat;
    await alice.ask({ cmd: "send", text: "said on one node" }, "sent");
    await chat.write(`${JSON.stringify({ cmd: "quit" })}\n`);
    await chat.finish();
    single.kill("SIGTERM");
    await single.finish();

    const joining = cluster.spawnNode("single");
    const status = await joining.finish();
    assert.equal(status.code, 1);
    assert.match(
      joining.stderr,
      /holds messages the cluster's log does not .*Give each node of a cluster its own new --data folder/,
    );
  },
});
