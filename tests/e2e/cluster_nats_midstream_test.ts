/**
 * NATS killed and started again while the nodes run and their users are
 * mid-conversation (issue 19, README "Running several nodes"): a real
 * `nats-server -js` (on its store), two real `chat serve --cluster` nodes
 * and real `chat connect --json` clients: alice on node A, bob on node B.
 * A line answered "could not save that; try again" that was saved all the
 * same is one a person types again: twice in the log. Before, each node's
 * log reader stalled for about 40 s after NATS came back (its client
 * checked the consumer once JetStream was up only after 30 s), and four
 * lines in a row were answered so, 10 s each, while bob got them.
 */

import assert from "node:assert/strict";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import type { Bot, JsonEvent } from "../_helpers/json_bot.ts";

const NATS = await natsForTest("cluster_nats_midstream_test");

/** Lines alice types before NATS is killed, and as many after. */
const LINES = 9;

/** Line `i`: public and private to bob in turn. */
function line(i: number): JsonEvent {
  const text = `alice ${i}`;
  const id = `l${i}`;
  return i % 2 === 0
    ? { cmd: "send", text, id }
    : { cmd: "msg", to: "bob", text, id };
}

/** Types lines `from` to `to`, one write each, unanswered. */
async function type(bot: Bot, from: number, to: number) {
  for (let i = from; i <= to; i++) {
    await bot.chat.write(`${JSON.stringify(line(i))}\n`);
  }
}

Deno.test({
  name:
    "NATS killed with lines on their way and started again at once: bob gets exactly the lines alice was told were sent, once, in order",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-nats-midstream",
      presenceTtl: 2,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const alice = await cluster.bot(a, "alice");
    const bob = await cluster.bot(b, "bob");
    await bob.waitForList((names) => names.includes("alice"), 10_000);
    // bob's end-to-end keys fetched (they come through NATS too).
    await alice.ask({ cmd: "msg", to: "bob", text: "alice 0" }, "sent");

    await type(alice, 1, LINES);
    await cluster.nats.crash();
    await type(alice, LINES + 1, 2 * LINES);
    await cluster.nats.restart();

    const answers: JsonEvent[] = [];
    for (let i = 1; i <= 2 * LINES; i++) {
      const [text] = await alice.chat.waitFor(
        new RegExp(`^\\{"type":"(sent|error)","re":"l${i}".*$`, "m"),
        30_000,
      );
      answers.push(JSON.parse(text) as JsonEvent);
    }
    const sent = answers.filter((e) => e.type === "sent").map((e) =>
      String(e.text)
    );
    await alice.ask({ cmd: "send", text: "the end" }, "sent");
    await bob.chat.waitFor(/"text":"the end"/, 30_000);
    const got = bob.events().filter((e) =>
      e.type === "message" && e.from === "alice" &&
      e.text !== "the end" && e.text !== "alice 0"
    ).map((e) => String(e.text));
    assert.deepEqual(got, sent, bob.chat.stdout);
  },
});
