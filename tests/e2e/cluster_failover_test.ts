/**
 * Failover between the nodes of a cluster (issue 19): a real
 * `nats-server -js`, two real `chat serve --cluster` processes sharing one
 * key, and real `chat connect --json` clients; one is given both nodes'
 * addresses, and its node is killed with kill -9.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";
import { crash, natsServerPath, startNats } from "../_helpers/nats.ts";
import { Bot } from "../_helpers/json_bot.ts";

const NATS = await natsServerPath();
if (NATS === null) {
  console.warn(
    "cluster_failover_test: skipped: nats-server is not installed and apt-get could not install it",
  );
}

/** How long a dead node's users stay listed, in seconds (--presence-ttl). */
const TTL_SECONDS = 2;

Deno.test({
  name:
    "chat connect with two nodes' addresses: when its node is killed with kill -9 it says it reconnected to the other, keeps chatting there, and a message there is not dropped as a duplicate of one with the same id on the dead node",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const dir = await Deno.makeTempDir({ prefix: "chat-failover-" });
    const processes: ChatProcess[] = [];
    try {
      await makeKeys(dir);
      const node = (data: string) => {
        const server = serveProcess(
          dir,
          0,
          "--data",
          join(dir, data),
          "--cluster",
          nats.url,
          "--presence-ttl",
          String(TTL_SECONDS),
        );
        processes.push(server);
        return server;
      };
      const a = node("a");
      const b = node("b");
      const portA = await listeningPort(a);
      const portB = await listeningPort(b);
      await a.waitFor(/joined the cluster through NATS/);
      await b.waitFor(/joined the cluster through NATS/);

      const connect = (target: string, user: string) => {
        const chat = new ChatProcess(
          [
            "connect",
            target,
            "--pub",
            `${dir}/public.pem`,
            "--user",
            user,
            "--json",
          ],
          { env: { XDG_CONFIG_HOME: join(dir, `${user}-config`) } },
        );
        processes.push(chat);
        return new Bot(chat);
      };
      // alice knows both nodes; the first answers.
      const alice = connect(`127.0.0.1:${portA},127.0.0.1:${portB}`, "alice");
      await alice.chat.waitFor(/"type":"welcome","name":"alice"/);
      assert.match(
        alice.chat.stdout + alice.chat.stderr,
        new RegExp(`Connected to 127\\.0\\.0\\.1:${portA}`),
      );
      const carol = connect(`127.0.0.1:${portA}`, "carol");
      await carol.chat.waitFor(/"type":"welcome","name":"carol"/);
      const bob = connect(`127.0.0.1:${portB}`, "bob");
      await bob.chat.waitFor(/"type":"welcome","name":"bob"/);
      await bob.waitForList((names) => names.includes("alice"), 10_000);

      // carol writes to alice on node A only: node A's ids run ahead of
      // node B's, so that node B's next ids are ones alice has seen there.
      for (let i = 1; i <= 12; i++) {
        await carol.ask(
          { cmd: "msg", to: "alice", text: `from carol ${i}` },
          "sent",
        );
      }
      await alice.chat.waitFor(/"from":"carol","text":"from carol 12"/);
      await bob.ask({ cmd: "msg", to: "alice", text: "before" }, "sent");
      await alice.chat.waitFor(/"from":"bob","text":"before"/);
      const seenOnA = new Set(
        alice.events().filter((e) => e.type === "message")
          .map((e) => e.id as number),
      );

      // Node A dies without a word: alice comes back on node B and says so.
      await crash(a);
      await alice.chat.waitFor(
        new RegExp(
          `"type":"connection","state":"reconnected".*"server":"127\\.0\\.0\\.1:${portB}"`,
        ),
        30_000,
      );

      // She keeps chatting there, both ways, and what is sent to her there
      // reaches her once.
      await alice.ask({ cmd: "send", text: "back on B" }, "sent");
      await bob.chat.waitFor(
        /"kind":"public","from":"alice","text":"back on B"/,
      );
      for (let i = 1; i <= 5; i++) {
        await bob.ask({ cmd: "msg", to: "alice", text: `after ${i}` }, "sent");
      }
      await alice.chat.waitFor(/"from":"bob","text":"after 5"/);
      const after = alice.events().filter((e) =>
        e.type === "message" && String(e.text).startsWith("after ")
      );
      assert.deepEqual(
        after.map((e) => e.text),
        ["after 1", "after 2", "after 3", "after 4", "after 5"],
        alice.chat.stdout,
      );
      // One position space (the cluster's log): node B numbers after every
      // id alice saw on node A, so nothing new there can pass for a message
      // she has shown.
      const lastOnA = Math.max(...seenOnA);
      assert.ok(
        after.every((e) => (e.id as number) > lastOnA),
        `node B's ids ${after.map((e) => e.id)} not past node A's ${lastOnA}`,
      );
      assert.equal(
        alice.events().filter((e) => e.text === "before").length,
        1,
      );
      assert.deepEqual(
        await bob.waitForList(
          (names) => names.includes("alice") && !names.includes("carol"),
          TTL_SECONDS * 1000 * 3,
        ),
        ["alice", "bob"],
      );
    } finally {
      for (const process of processes) process.kill("SIGKILL");
      await Promise.all(processes.map((process) => process.finish()));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
