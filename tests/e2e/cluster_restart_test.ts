/**
 * A NATS server that goes away and comes back (issue 19): the nodes keep
 * each other's users listed meanwhile (silence from NATS says nothing of
 * the other nodes), and messages and presence flow again once it is back.
 * Real nats-server -js, killed with SIGKILL and restarted on its port with
 * its store; two real nodes; `chat connect --json` clients. In
 * `deno task test:slow`: it holds NATS down for longer than the TTL.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";
import { natsServerPath, startNats } from "../_helpers/nats.ts";
import { Bot } from "../_helpers/json_bot.ts";

const NATS = await natsServerPath();
if (NATS === null) {
  console.warn(
    "cluster_restart_test: skipped: nats-server is not installed and apt-get could not install it",
  );
}

const TTL_SECONDS = 2;

Deno.test({
  name:
    "chat serve --cluster: while NATS is down for longer than the TTL the nodes keep each other's users listed, and chat and presence flow again once it is back",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const dir = await Deno.makeTempDir({ prefix: "chat-cluster-restart-" });
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
      await a.waitFor(/joined the cluster/);
      await b.waitFor(/joined the cluster/);
      const connect = (port: string, user: string) => {
        const chat = new ChatProcess(
          [
            "connect",
            `127.0.0.1:${port}`,
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
      const alice = connect(portA, "alice");
      await alice.chat.waitFor(/"type":"welcome","name":"alice"/);
      const bob = connect(portB, "bob");
      await bob.chat.waitFor(/"type":"welcome","name":"bob"/);
      await bob.waitForList((names) => names.includes("alice"), 10_000);

      await nats.crash();
      await a.waitFor(/lost NATS/);
      await b.waitFor(/lost NATS/);
      // Down for three TTLs: node B hears nothing of node A all along, and
      // keeps alice listed (its clients are still served by it meanwhile).
      const downUntil = Date.now() + 3 * TTL_SECONDS * 1000;
      while (Date.now() < downUntil) {
        assert.deepEqual(await bob.listed(), ["alice", "bob"]);
      }
      await nats.restart();
      await a.waitFor(/NATS is reachable again/, 20_000);
      await b.waitFor(/NATS is reachable again/, 20_000);
      assert.deepEqual(await bob.listed(), ["alice", "bob"]);

      // Chat crosses again, and presence: carol signs in on node A.
      await alice.ask({ cmd: "send", text: "back again" }, "sent");
      await bob.chat.waitFor(/"from":"alice","text":"back again"/, 20_000);
      const carol = connect(portA, "carol");
      await carol.chat.waitFor(/"type":"welcome","name":"carol"/);
      assert.deepEqual(
        await bob.waitForList((names) => names.includes("carol"), 20_000),
        ["alice", "bob", "carol"],
      );
      // And nobody was taken for gone along the way.
      assert.doesNotMatch(a.stdout + b.stdout, /was not heard from/);
    } finally {
      for (const process of processes) process.kill("SIGKILL");
      await Promise.all(processes.map((process) => process.finish()));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
