/**
 * A NATS server that resets a node's connection (tests/e2e/
 * cluster_nats_auth_test once failed so, with an uncaught ECONNRESET): the
 * NATS client takes every listener off its socket as it closes it, and a
 * reset the peer sends at that moment was an `error` event no one heard,
 * an uncaught error that ended the process (1 to 13 tries of a client
 * without the password against a NATS that asks for one, three runs). A
 * real nats-server; skipped without one.
 */

import assert from "node:assert/strict";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import { connectNats } from "../../../src/server/cluster/nats.ts";

const NATS = await natsServerPath();

/** Tries, many times more than a reset took to end the process. */
const TRIES = 100;

Deno.test({
  name:
    "connectNats refused by a NATS that asks for credentials rejects each time, and the peer's resets never end the process",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!, [
      "--user",
      "chat",
      "--pass",
      "pw",
    ]);
    for (let i = 0; i < TRIES; i++) {
      await assert.rejects(
        connectNats([nats.url], "outsider"),
        /Authorization Violation/,
      );
    }
    // The process still runs, and a node with the password gets in.
    const nc = await connectNats(
      [nats.url.replace("//", "//chat:pw@")],
      "node",
    );
    await nc.close();
  },
});
