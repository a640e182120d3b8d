/**
 * `chat admin release NAME --cluster` on a running cluster (a real
 * `nats-server -js`, two real `chat serve --cluster` nodes, real `chat
 * connect --json` clients): every node cuts the old key off where the next
 * key took the name over, the same way, whether the old key ever signed in
 * there or not, and keeps what came for the next key since.
 */

import assert from "node:assert/strict";
import {
  Cluster,
  type ClusterNode,
  natsForTest,
  untilGroupKnown,
} from "../_helpers/cluster.ts";
import type { Bot } from "../_helpers/json_bot.ts";
import { ChatProcess } from "../_helpers/process.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_release_test");

/** What was said to the old key: the next one is shown none of it. */
const OLD_KEY_TEXTS = [
  "read by the old key",
  "waiting for the old key",
  "group line for the old key",
];

Deno.test({
  name:
    "chat admin release NAME --cluster: the next key is handed none of the old key's messages, history or groups on a node where the old key never signed in, and on the node where it did it keeps what was sent to the next key since it took the name over",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-release-cut",
    });
    const [a, b] = await cluster.nodes("a", "b");
    const jojo = (node: ClusterNode, config: string) =>
      cluster.bot(node, "jojo", { config, args: ["--no-reconnect"] });
    const quit = async (bot: Bot) => {
      await bot.chat.write(`${JSON.stringify({ cmd: "quit" })}\n`);
      await bot.chat.finish();
    };
    const members = async (bot: Bot) =>
      ((await bot.ask({ cmd: "members", group: "lab" }, "members"))
        .groups as { members: string[] }[]).map((group) => group.members);
    const texts = (bot: Bot) =>
      bot.events().filter((e) => e.type === "message").map((e) => e.text);
    /**
     * What a client was handed of the old key's: the messages it read, and
     * those sealed for the old key it could not open (`e2e` errors).
     */
    const oldKeys = (bot: Bot) => [
      ...texts(bot).filter((text) => OLD_KEY_TEXTS.includes(String(text))),
      ...bot.events().filter((e) => e.type === "error" && e.code === "e2e"),
    ];
    /** Until amy has seen jojo leave `times` times in all. */
    const left = (times: number) =>
      amy.chat.waitUntil(
        () =>
          amy.events().filter((e) =>
              e.type === "presence" && e.name === "jojo" && e.online === false
            ).length >= times || null,
        `jojo left ${times} times`,
      );

    // The old key, on node A only: in amy's group, told something there.
    // cy, on node B, and dee, on node A, write to the next key later
    // (amy's client holds what she writes to jojo until she trusts the new
    // key).
    const [amy, cy, dee, old] = await Promise.all([
      cluster.bot(a, "amy"),
      cluster.bot(b, "cy"),
      cluster.bot(a, "dee"),
      jojo(a, "old-key"),
    ]);
    await amy.ask({ cmd: "create", group: "lab" }, "ok");
    await old.ask({ cmd: "join", group: "lab" }, "ok");
    // Node B has the old key in lab too (the groups bucket), to cut there.
    await untilGroupKnown(cy, "lab");
    const deadline = Date.now() + WAIT_MS;
    while (!(await members(cy)).flat().includes("jojo")) {
      assert.ok(Date.now() < deadline, "node B never had jojo in lab");
    }
    await amy.ask({ cmd: "msg", to: "jojo", text: OLD_KEY_TEXTS[0] }, "sent");
    await old.chat.waitFor(/"text":"read by the old key"/);
    await quit(old);
    await left(1);
    const waiting = await amy.ask(
      { cmd: "msg", to: "jojo", text: OLD_KEY_TEXTS[1] },
      "sent",
    );
    assert.match(String(waiting.note), /jojo is offline/);
    await amy.ask(
      { cmd: "group", group: "lab", text: OLD_KEY_TEXTS[2] },
      "sent",
    );

    const released = cluster.track(
      new ChatProcess([
        "admin",
        "release",
        "jojo",
        "--cluster",
        cluster.nats.url,
      ]),
    );
    assert.equal((await released.finish()).code, 0, released.stderr);
    // Out of lab at the release, on both nodes, before any next key: no
    // sign-in that may never finish is left to end it.
    await amy.chat.waitUntil(
      () =>
        amy.events().some((e) =>
          e.type === "membership" && e.group === "lab" &&
          e.name === "jojo" && e.joined === false
        ) || null,
      "amy told jojo left lab",
    );
    const out = Date.now() + WAIT_MS;
    while ((await members(cy)).flat().includes("jojo")) {
      assert.ok(Date.now() < out, "node B kept jojo in lab");
    }
    assert.match(released.stdout, /Took it out of 1 group: lab\./);

    // The next key on node B, where the old key never signed in: nothing
    // waits for it, its history with amy is empty, it is in no group.
    let next = await jojo(b, "new-key");
    const none = await next.ask({ cmd: "history", target: "amy" }, "ok");
    assert.equal(none.text, "No history for your conversation with amy.");
    assert.deepEqual(await members(next), [["amy"]]);
    assert.deepEqual(oldKeys(next), [], next.chat.stdout);

    // Sent to the next key, live on node B, then while it is away on node
    // A, whose own copy of the binding followed the names bucket (else it
    // would refuse it as sealed for a key the name no longer has).
    await cy.ask(
      { cmd: "msg", to: "jojo", text: "live for the new key" },
      "sent",
    );
    await next.chat.waitFor(/"text":"live for the new key"/);
    await quit(next);
    await left(2);
    await dee.ask(
      { cmd: "msg", to: "jojo", text: "waiting for the new key" },
      "sent",
    );

    // Node A, whose own database bound jojo to the old key: the next key
    // is handed what was sent to it, and its history keeps it, but none of
    // the old key's.
    next = await jojo(a, "new-key");
    await next.chat.waitFor(/"text":"waiting for the new key"/);
    for (const other of ["cy", "dee"]) {
      const kept = await next.ask({ cmd: "history", target: other }, "ok");
      assert.equal(
        kept.text,
        `End of history for your conversation with ${other} (1 message).`,
      );
    }
    const cut = await next.ask({ cmd: "history", target: "amy" }, "ok");
    assert.equal(cut.text, "No history for your conversation with amy.");
    assert.deepEqual(oldKeys(next), [], next.chat.stdout);
    await quit(next);
  },
});

Deno.test({
  name:
    "chat admin release NAME --cluster: a node that was down while the next key took the name and joined the old key's group again keeps it in that group when it signs in there",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-cluster-release-rejoin",
    });
    const [a, c] = await cluster.nodes("a", "c");
    const jojo = (node: ClusterNode, config: string) =>
      cluster.bot(node, "jojo", { config, args: ["--no-reconnect"] });
    const quit = async (bot: Bot) => {
      await bot.chat.write(`${JSON.stringify({ cmd: "quit" })}\n`);
      await bot.chat.finish();
    };
    const members = async (bot: Bot) =>
      ((await bot.ask({ cmd: "members", group: "lab" }, "members"))
        .groups as { members: string[] }[]).map((group) => group.members);

    // The old key in lab, on node A; node C has it there too.
    const [amy, old] = await Promise.all([
      cluster.bot(a, "amy"),
      jojo(a, "old-key"),
    ]);
    await amy.ask({ cmd: "create", group: "lab" }, "ok");
    await old.ask({ cmd: "join", group: "lab" }, "ok");
    const cy = await cluster.bot(c, "cy", { args: ["--no-reconnect"] });
    await untilGroupKnown(cy, "lab");
    const deadline = Date.now() + WAIT_MS;
    while (!(await members(cy)).flat().includes("jojo")) {
      assert.ok(Date.now() < deadline, "node C never had jojo in lab");
    }
    await quit(cy);
    await quit(old);

    // Node C is down while the name is released, taken by the next key on
    // node A, and that key joins lab again.
    c.process.kill("SIGTERM");
    await c.process.finish();
    const released = cluster.track(
      new ChatProcess([
        "admin",
        "release",
        "jojo",
        "--cluster",
        cluster.nats.url,
      ]),
    );
    assert.equal((await released.finish()).code, 0, released.stderr);
    let next = await jojo(a, "new-key");
    assert.deepEqual(await members(next), [["amy"]]);
    await next.ask({ cmd: "join", group: "lab" }, "ok");
    await quit(next);

    // Back, node C has only the newest record of lab, which lists jojo as
    // its own copy did: the next key's membership, not to be cut there.
    const back = await cluster.node("c");
    next = await jojo(back, "new-key");
    assert.deepEqual(await members(next), [["amy", "jojo"]]);
    await quit(next);
    assert.deepEqual(await members(amy), [["amy", "jojo"]]);
  },
});
