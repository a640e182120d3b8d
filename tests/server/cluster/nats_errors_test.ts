/**
 * isStreamNotFound and isJetStreamUnavailable tell NATS's failures apart by
 * the errors' classes and codes, checked against a real nats-server: with
 * JetStream, and without it.
 */

import assert from "node:assert/strict";
import {
  connectNats,
  isJetStreamUnavailable,
  isStreamNotFound,
  jetstream,
  jetstreamManager,
} from "../../../src/server/cluster/nats.ts";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";

const binary = await natsServerPath();

/** What `attempt` throws (it must throw). */
async function thrownBy(attempt: () => Promise<unknown>): Promise<unknown> {
  try {
    await attempt();
  } catch (error) {
    return error;
  }
  assert.fail("it did not fail");
}

Deno.test({
  name:
    "isStreamNotFound knows JetStream's answer for a stream it does not have, which is not an unavailable JetStream",
  ignore: binary === null,
  async fn() {
    await using nats = await startNats(binary!);
    const nc = await connectNats([nats.url], "nats_errors_test");
    try {
      const jsm = await jetstreamManager(nc);
      const error = await thrownBy(() => jsm.streams.info("no_such_stream"));
      assert.ok(isStreamNotFound(error), String(error));
      assert.ok(!isJetStreamUnavailable(error), String(error));
    } finally {
      await nc.close();
    }
  },
});

Deno.test({
  name:
    "isJetStreamUnavailable knows a server without JetStream, for its API and for a publish",
  ignore: binary === null,
  async fn() {
    // The last -js wins: JetStream off.
    await using nats = await startNats(binary!, ["-js=false"]);
    const nc = await connectNats([nats.url], "nats_errors_test");
    try {
      const jsm = await thrownBy(async () =>
        await (await jetstreamManager(nc)).streams.info("chat_log")
      );
      assert.ok(isJetStreamUnavailable(jsm), String(jsm));
      assert.ok(!isStreamNotFound(jsm), String(jsm));
      const published = await thrownBy(() =>
        jetstream(nc).publish("chat.nothing", "x")
      );
      assert.ok(isJetStreamUnavailable(published), String(published));
    } finally {
      await nc.close();
    }
  },
});
