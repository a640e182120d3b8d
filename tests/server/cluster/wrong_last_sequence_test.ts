/**
 * The cluster's compare-and-set writes (name bindings, groups, prekeys) try
 * again when another node wrote first: told by JetStream's API error code,
 * not by the words of its message. A real nats-server; skipped without one.
 */

import assert from "node:assert/strict";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import {
  connectNats,
  isWrongLastSequence,
  openBucket,
} from "../../../src/server/cluster/nats.ts";

const NATS = await natsServerPath();

async function failureOf(write: Promise<unknown>): Promise<unknown> {
  return await write.then(
    () => assert.fail("the write was let through"),
    (error: unknown) => error,
  );
}

Deno.test({
  name:
    "isWrongLastSequence is true for a create of a key that exists and a write at a stale revision",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "a");
    try {
      const kv = await openBucket(nc, "cas", 0);
      const first = await kv.create("k", "one");
      await kv.update("k", "two", first);
      assert.ok(isWrongLastSequence(await failureOf(kv.create("k", "x"))));
      assert.ok(
        isWrongLastSequence(await failureOf(kv.update("k", "x", first))),
      );
      assert.ok(
        isWrongLastSequence(
          await failureOf(kv.delete("k", { previousSeq: first })),
        ),
      );
    } finally {
      await nc.close();
    }
  },
});

Deno.test("isWrongLastSequence is false for an error that only has the words", () => {
  assert.equal(isWrongLastSequence(new Error("wrong last sequence: 1")), false);
  assert.equal(isWrongLastSequence(new Error("key exists")), false);
  assert.equal(isWrongLastSequence(new TypeError("bad record")), false);
});
