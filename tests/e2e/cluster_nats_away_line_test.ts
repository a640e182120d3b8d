/**
 * A line typed while NATS is away for longer than a node's 10 s wait for
 * the log (issue 19, docs/SCALING.md "The message log"): a real
 * `nats-server -js`, two real `chat serve --cluster` nodes and real
 * `chat connect --json` clients, alice on node A, bob on node B. Before,
 * alice was told "could not save that; try again" within 10 s though the
 * node could not know (an acknowledgement lost when NATS fell, a record
 * sent as NATS came back), and a person typing it again may put it in the
 * log twice. Now the node keeps sending it, same message id, until
 * JetStream has it; alice hears it is pending, then sent, and bob gets it
 * once.
 */

import assert from "node:assert/strict";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import type { JsonEvent } from "../_helpers/json_bot.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_nats_away_line_test");

Deno.test({
  name:
    "a line typed while NATS is away for more than 10 s is said pending (a notice, neither an error nor sent), then sent once NATS is back, and bob gets it once",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-nats-away-line",
      presenceTtl: 2,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const alice = await cluster.bot(a, "alice");
    const bob = await cluster.bot(b, "bob");
    await bob.waitForList((names) => names.includes("alice"), WAIT_MS);
    await alice.ask({ cmd: "send", text: "before" }, "sent");
    await bob.chat.waitFor(/"text":"before"/);

    await cluster.nats.crash();
    await alice.chat.write(
      `${JSON.stringify({ cmd: "send", text: "while away", id: "l1" })}\n`,
    );
    // NATS stays away until alice first hears of the line: nothing can
    // store it meanwhile, so what she hears is the client's word that it is
    // pending (10 s on), not an error (what she heard before) nor sent.
    const [first] = await alice.chat.waitFor(
      /^\{"type":"(notice|error|sent)","re":"l1".*$/m,
      WAIT_MS,
    );
    const heard = JSON.parse(first) as JsonEvent;
    assert.equal(heard.type, "notice", alice.chat.stdout);
    assert.match(
      String(heard.text),
      /^The server has not answered your message to everyone within 10 seconds: it is still pending/,
      alice.chat.stdout,
    );
    // Behind it (the order promise, PROTOCOL 5.9): a private line and a
    // request. The client says once why nothing moves: the node's `alive`
    // (every 10 s of the wait) means it holds the replies.
    await alice.chat.write(
      `${
        JSON.stringify({ cmd: "msg", to: "bob", text: "behind", id: "l2" })
      }\n${JSON.stringify({ cmd: "list", id: "l3" })}\n`,
    );
    await alice.chat.waitFor(
      /"type":"notice","text":"Waiting for the cluster to store your message: what you sent after it waits its turn/,
      WAIT_MS,
    );
    await cluster.nats.restart();

    const [answer] = await alice.chat.waitFor(
      /^\{"type":"(sent|error)","re":"l1".*$/m,
      2 * WAIT_MS,
    );
    const event = JSON.parse(answer) as JsonEvent;
    assert.equal(event.type, "sent", alice.chat.stdout);
    assert.doesNotMatch(alice.chat.stdout, /could not save/);

    await alice.chat.waitFor(/^\{"type":"sent","re":"l2".*$/m, WAIT_MS);
    await alice.chat.waitFor(/^\{"type":"users","re":"l3".*$/m, WAIT_MS);
    assert.equal(
      alice.events().filter((e) =>
        e.type === "notice" &&
        String(e.text).startsWith("Waiting for the cluster to store")
      ).length,
      1,
      alice.chat.stdout,
    );
    await alice.ask({ cmd: "send", text: "the end" }, "sent");
    await bob.chat.waitFor(/"text":"the end"/, WAIT_MS);
    const got = bob.events().filter((e) =>
      e.type === "message" && e.from === "alice"
    ).map((e) => String(e.text));
    assert.deepEqual(
      got,
      ["before", "while away", "behind", "the end"],
      bob.chat.stdout,
    );
  },
});
