/**
 * A node killed with SIGKILL while its users are mid-conversation (issue
 * 19, README "Running several nodes"): a real `nats-server -js`, two real
 * `chat serve --cluster` nodes and real `chat connect --json` clients.
 * alice and carol, on node A with both addresses, each have public,
 * private and group lines on their way when node A dies, and type more
 * while they reconnect to node B; bob, on node B, and each of them must
 * get every line once, in the order it was typed.
 */

import assert from "node:assert/strict";
import { crash } from "../_helpers/nats.ts";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import type { Bot, JsonEvent } from "../_helpers/json_bot.ts";

const NATS = await natsForTest("cluster_kill_midstream_test");

/** Lines each sender types before the kill, and as many after it. */
const LINES = 12;

/** The command for line `i` of `who`: public, private to bob, group, in turn. */
function line(who: string, i: number): JsonEvent {
  const text = `${who} ${i}`;
  switch (i % 3) {
    case 0:
      return { cmd: "send", text, id: `${who}-${i}` };
    case 1:
      return { cmd: "msg", to: "bob", text, id: `${who}-${i}` };
    default:
      return { cmd: "group", group: "crew", text, id: `${who}-${i}` };
  }
}

/** Types lines `from` to `to` of `who`, one write each, unanswered. */
async function type(bot: Bot, who: string, from: number, to: number) {
  for (let i = from; i <= to; i++) {
    await bot.chat.write(`${JSON.stringify(line(who, i))}\n`);
  }
}

/** The lines of `who` that `bot` was shown live, as `kind` (not from history twice). */
function shown(bot: Bot, who: string, kind: string): string[] {
  return bot.events().filter((e) =>
    e.type === "message" && e.from === who && e.kind === kind
  ).map((e) => String(e.text));
}

/** The lines of `who` that are of `kind`, in the order typed. */
function typed(who: string, kind: string): string[] {
  const kinds = ["public", "private", "group"];
  const all: string[] = [];
  for (let i = 1; i <= 2 * LINES; i++) {
    if (kinds[i % 3] === kind) all.push(`${who} ${i}`);
  }
  return all;
}

Deno.test({
  name:
    "a node killed with SIGKILL while alice and carol have public, private and group lines on their way: after they reconnect to the other node, bob and each of them get every line once, in the order typed",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-kill-midstream",
      presenceTtl: 2,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const both = `${a.address},${b.address}`;
    const alice = await cluster.bot(both, "alice");
    const carol = await cluster.bot(both, "carol");
    const bob = await cluster.bot(b, "bob");
    await alice.ask({ cmd: "create", group: "crew" }, "ok");
    await bob.ask({ cmd: "join", group: "crew" }, "ok");
    await carol.ask({ cmd: "join", group: "crew" }, "ok");
    await bob.waitForList(
      (names) => names.includes("alice") && names.includes("carol"),
      10_000,
    );

    await Promise.all([
      type(alice, "alice", 1, LINES),
      type(carol, "carol", 1, LINES),
    ]);
    await crash(a.process);
    await Promise.all([
      type(alice, "alice", LINES + 1, 2 * LINES),
      type(carol, "carol", LINES + 1, 2 * LINES),
    ]);

    // Every line answered: sent (or an error, which fails below); a line
    // typed while reconnecting is said to be queued first.
    for (const [bot, who] of [[alice, "alice"], [carol, "carol"]] as const) {
      for (let i = 1; i <= 2 * LINES; i++) {
        await bot.chat.waitFor(
          new RegExp(`"type":"(sent|error)","re":"${who}-${i}"`),
          30_000,
        );
      }
      const failed = bot.events().filter((e) =>
        typeof e.re === "string" && e.re.startsWith(`${who}-`) &&
        e.type !== "sent" && e.type !== "queued"
      );
      assert.deepEqual(failed, [], bot.chat.stdout);
    }

    // Both moved to node B.
    for (const bot of [alice, carol]) {
      assert.match(
        bot.chat.stdout,
        new RegExp(
          `"state":"reconnected".*"server":"127\\.0\\.0\\.1:${b.port}"`,
        ),
      );
    }

    // What bob is owed: everything, once, in order.
    const last = (who: string, kind: string) => typed(who, kind).at(-1)!;
    for (const who of ["alice", "carol"]) {
      for (const kind of ["public", "private", "group"]) {
        await bob.chat.waitFor(
          new RegExp(
            `"from":"${who}",("group":"crew",)?"text":"${last(who, kind)}"`,
          ),
          30_000,
        );
      }
    }
    for (const who of ["alice", "carol"]) {
      for (const kind of ["public", "private", "group"]) {
        assert.deepEqual(
          shown(bob, who, kind),
          typed(who, kind),
          `bob, ${kind} from ${who}:\n${bob.chat.stdout}`,
        );
      }
    }
    // And alice and carol each other's public and group lines.
    for (const [bot, other] of [[alice, "carol"], [carol, "alice"]] as const) {
      for (const kind of ["public", "group"]) {
        await bot.chat.waitFor(
          new RegExp(
            `"from":"${other}",("group":"crew",)?"text":"${last(other, kind)}"`,
          ),
          30_000,
        );
        assert.deepEqual(
          shown(bot, other, kind),
          typed(other, kind),
          `${kind} from ${other}:\n${bot.chat.stdout}`,
        );
      }
    }
  },
});
