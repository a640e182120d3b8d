/**
 * The cluster's message log trimmed by its retention (issue 19,
 * docs/SCALING.md "Retention"): a real `nats-server -js`, real nodes with
 * `--log-max-age`, real `chat connect --json` clients. A node that has
 * applied everything restarts after the log dropped it; a node on a new
 * database is refused, saying what to do; a node started on a copy of a
 * current node's database (taken while that node runs) serves what only
 * the copy still holds, exactly once, and what is said afterwards.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Cluster, type ClusterNode, natsForTest } from "../_helpers/cluster.ts";
import type { Bot } from "../_helpers/json_bot.ts";
import {
  connectNats,
  jetstreamManager,
} from "../../src/server/cluster/nats.ts";
import { LOG_STREAM } from "../../src/server/cluster/subjects.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_retention_test");

Deno.test({
  name:
    "chat serve --cluster --log-max-age: once the log dropped its records a node that applied them restarts, a node on a new database is refused naming the records and the copy to make, and a node on a copy of a running node's database delivers what waited there once and what is said later",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-retention",
    });
    const { dir } = cluster;
    const nc = await connectNats([cluster.nats.url], "retention-test");
    try {
      const connect = (node: ClusterNode, user: string) =>
        cluster.bot(node, user, { args: ["--no-reconnect"] });
      const quit = async (bot: Bot) => {
        await bot.chat.write(`${JSON.stringify({ cmd: "quit" })}\n`);
        await bot.chat.finish();
      };
      const messages = (bot: Bot, text: string) =>
        bot.events().filter((e) => e.type === "message" && e.text === text);

      // Records live 2 s: short enough for a test, long enough for each
      // node to read its own back.
      let a = await cluster.node("a", "--log-max-age", "2s");
      let alice = await connect(a, "alice");
      let bob = await connect(a, "bob");
      await alice.ask({ cmd: "msg", to: "bob", text: "seen by bob" }, "sent");
      await bob.chat.waitFor(/"text":"seen by bob"/);
      // His goodbye acknowledges it.
      await quit(bob);
      await alice.ask(
        { cmd: "msg", to: "bob", text: "waiting for bob" },
        "sent",
      );
      await alice.ask({ cmd: "send", text: "public before" }, "sent");
      // The log's last record is an acknowledgement, after A's newest
      // message: A's restart must know it applied it.
      const carol = await connect(a, "carol");
      await alice.ask(
        { cmd: "msg", to: "carol", text: "seen by carol" },
        "sent",
      );
      await carol.chat.waitFor(/"text":"seen by carol"/);
      await quit(carol);
      await quit(alice);

      // Retention empties the log.
      const jsm = await jetstreamManager(nc);
      const deadline = Date.now() + WAIT_MS;
      let state = (await jsm.streams.info(LOG_STREAM)).state;
      while (state.messages > 0 || state.last_seq < 5) {
        assert.ok(Date.now() < deadline, JSON.stringify(state));
        // Each answer is a round trip to NATS: that is the pace.
        state = (await jsm.streams.info(LOG_STREAM)).state;
      }
      const first = state.first_seq;

      // A new node cannot be a copy of the cluster from what is left.
      const fresh = cluster.spawnNode("fresh");
      assert.equal((await fresh.finish()).code, 1);
      assert.match(
        fresh.stderr,
        new RegExp(
          `The cluster's log no longer holds records 1 to ${
            first - 1
          }, which the database in .*fresh has not applied.*Start this node on a copy of a current node's database: sqlite3 OTHER/chat\\.db "VACUUM INTO`,
        ),
      );

      // Node A applied all of it: it starts again, the log empty or not.
      a.process.kill("SIGTERM");
      await a.process.finish();
      a = await cluster.node("a");

      // A copy of A's database, taken while A runs, for node C.
      await Deno.mkdir(join(dir, "c"), { mode: 0o700 });
      // In a process of its own: Deno refuses ATTACH (which VACUUM INTO
      // is) to a process without every permission, as this test runs.
      const copy = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          "--allow-all",
          `import { DatabaseSync } from "node:sqlite";
const source = new DatabaseSync(Deno.args[0]);
source.exec("VACUUM INTO '" + Deno.args[1].replaceAll("'", "''") + "'");
source.close();`,
          join(dir, "a", "chat.db"),
          join(dir, "c", "chat.db"),
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(copy.success, new TextDecoder().decode(copy.stderr));
      const c = await cluster.node("c");

      // bob on C: what waited for him (in no log any more) comes once,
      // what he saw before does not come again.
      bob = await connect(c, "bob");
      await bob.chat.waitFor(/"text":"waiting for bob"/);
      alice = await connect(a, "alice");
      await alice.ask({ cmd: "send", text: "after the copy" }, "sent");
      await bob.chat.waitFor(/"text":"after the copy"/);
      // A round trip: anything sent twice would have arrived by now.
      await bob.ask({ cmd: "list" }, "users");
      assert.equal(messages(bob, "waiting for bob").length, 1);
      assert.equal(messages(bob, "seen by bob").length, 0, bob.chat.stdout);
      assert.equal(messages(bob, "after the copy").length, 1);
      await bob.ask({ cmd: "history" }, "ok");
      await bob.chat.waitFor(/"text":"public before"/);
      assert.doesNotMatch(
        a.process.stdout + c.process.stdout,
        /no longer holds|could not apply|store failed/,
      );
    } finally {
      await nc.close();
    }
  },
});
