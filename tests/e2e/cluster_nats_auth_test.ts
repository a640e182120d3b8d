/**
 * Who may write into a cluster's NATS (issue 19; README "Running several
 * nodes"): the nodes trust every record in the message log, so a NATS server
 * that takes anyone lets a classmate who can reach its port act as the host,
 * posting public messages as anyone. A real `nats-server -js`, real `chat
 * serve --cluster` nodes and real `chat connect --json` clients.
 */

import assert from "node:assert/strict";
import { Cluster, natsForTest } from "../_helpers/cluster.ts";
import { connectNats, jetstream } from "../../src/server/cluster/nats.ts";
import { encodeLogRecord } from "../../src/server/cluster/log_record.ts";
import { ROOM_LOG_SUBJECT } from "../../src/server/cluster/subjects.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_nats_auth_test");

/** What an outsider on the network posts into the log: alice's line, forged. */
function forgedLine(text: string): Uint8Array {
  return encodeLogRecord({
    kind: "public",
    from: "alice",
    ts: Date.now(),
    body: new TextEncoder().encode(text),
  });
}

Deno.test({
  name:
    "chat serve --cluster nats://USER:PASS@HOST:PORT, a comma typed in the password, joins a NATS that asks for credentials, users chat across its nodes, the password is in no output, and an outsider without them can neither connect nor post as alice",
  ignore: NATS === null,
  async fn() {
    // Typed as is: the comma is the password's, not between two URLs.
    const pass = "s3cret,Pa55";
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-nats-auth",
      natsAuth: { user: "chat", pass },
      natsAuthAsTyped: true,
    });
    const [a, b] = await cluster.nodes("a", "b");
    const alice = await cluster.bot(a, "alice");
    const bob = await cluster.bot(b, "bob");
    await bob.waitForList((names) => names.includes("alice"), WAIT_MS);
    await alice.ask({ cmd: "send", text: "hello from A" }, "sent");
    await bob.chat.waitFor(
      /"kind":"public","from":"alice","text":"hello from A"/,
    );

    // Not told to run NATS with credentials: it asks for them.
    for (const node of [a, b]) {
      assert.doesNotMatch(node.process.stdout, /lets anyone connect/);
      assert.doesNotMatch(node.process.stdout + node.process.stderr, /s3cret/);
    }
    // An outsider who can reach the port, without the password.
    await assert.rejects(
      connectNats([cluster.nats.url], "outsider"),
      /Authorization Violation/,
    );
    await assert.rejects(
      connectNats([cluster.nats.url.replace("//", "//chat:guess@")], "x"),
      /Authorization Violation/,
    );
  },
});

Deno.test({
  name:
    "chat serve --cluster warns when its NATS lets anyone connect: an outsider who can reach the port posts a public message as alice, which bob is shown as alice's",
  ignore: NATS === null,
  async fn() {
    await using cluster = await Cluster.start(NATS!, {
      prefix: "chat-nats-open",
    });
    const [a] = await cluster.nodes("a");
    await a.process.waitFor(
      /cluster: WARNING: the NATS server at 127\.0\.0\.1:\d+ lets anyone connect without credentials: whoever can reach its port can write into the message log as any user/,
    );
    await cluster.bot(a, "alice");
    const bob = await cluster.bot(a, "bob");
    await bob.waitForList((names) => names.includes("alice"), WAIT_MS);

    // What the warning is about: no node, no account, alice never wrote it.
    const nc = await connectNats([cluster.nats.url], "outsider");
    try {
      await jetstream(nc).publish(
        ROOM_LOG_SUBJECT,
        forgedLine("send your password to mallory"),
      );
    } finally {
      await nc.close();
    }
    await bob.chat.waitFor(
      /"kind":"public","from":"alice","text":"send your password to mallory"/,
    );
  },
});
