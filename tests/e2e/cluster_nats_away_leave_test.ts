/**
 * A client that leaves while its line waits for NATS (issue 19's wait,
 * docs/SCALING.md "The message log"): a real `nats-server -js`, a real
 * `chat serve --cluster` node and real `chat connect --json` clients, alice
 * and carol on the same node. Since a line waits for JetStream however long
 * NATS is away, the node read nothing more from alice's connection and
 * never ended it: gone, she stayed listed as online, her session held,
 * until NATS came back. Now her connection ends when it closes; the line
 * still goes to the log.
 */

import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_nats_away_leave_test");

Deno.test({
  name:
    "a client gone while its line waits for NATS is no longer listed, NATS still away, and the line is stored once NATS is back",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-nats-away-leave",
      presenceTtl: 2,
    });
    const a = await cluster.node("a");
    const alice = await cluster.bot(a, "alice");
    const carol = await cluster.bot(a, "carol");
    await carol.waitForList((names) => names.includes("alice"), WAIT_MS);

    await cluster.nats.crash();
    await alice.chat.write(
      `${JSON.stringify({ cmd: "send", text: "while away", id: "l1" })}\n`,
    );
    // Until the node has the line: it waits for the log, said pending.
    await alice.chat.waitFor(/^\{"type":"notice","re":"l1".*$/m, WAIT_MS);
    alice.chat.kill("SIGKILL");
    await alice.chat.finish();

    await carol.waitForList((names) => !names.includes("alice"), WAIT_MS);

    // Her line was not dropped with her connection: stored once NATS is back.
    await cluster.nats.restart();
    await carol.chat.waitFor(
      /"from":"alice".*"text":"while away"|"text":"while away".*"from":"alice"/,
      2 * WAIT_MS,
    );
  },
});
