/**
 * What a cluster node holds of a connection whose public line waits for
 * NATS (docs/PROTOCOL.md 5.9, "Behind a line the cluster has not
 * stored"): the order promise keeps everything the client sends after the
 * line behind it, and the node reads no more of it than its inbox mark
 * (ws_edge.ts INBOX_PAUSE_BYTES, 1 MiB) and one frame. A real NATS
 * (crashed), a real node, real clients over sockets: alice sends a line,
 * then 32 MB of private lines to bob; two `alive` later (20 s: the node
 * had all that time to read) the node has read at most its bound of them
 * (the mark, the frame that crossed it and the frame being handled: it
 * read 3,135,644 bytes, of a bound of 3,145,856), and bob has none
 * (nothing overtook the line).
 */

import assert from "node:assert/strict";
import { ClusterNode } from "../../../src/server/cluster/node.ts";
import { openStore } from "../../../src/store/sqlite_store.ts";
import { MAX_FRAME_BYTES } from "../../../src/protocol/limits.ts";
import {
  startTestServer,
  TestClient,
  type TestServer,
} from "../../_helpers/chat.ts";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import { WAIT_MS } from "../../_helpers/patience.ts";

const NATS = await natsServerPath();
/** Lines sent behind the waiting one: 32 MiB of them. */
const COUNT = 2048;

/** ws_edge.ts INBOX_PAUSE_BYTES (not exported: the edge's own). */
const INBOX_MARK = 1024 * 1024;

async function startNode(
  url: string,
): Promise<TestServer & { cluster: ClusterNode }> {
  const cluster = await ClusterNode.start({
    urls: [url],
    presenceTtlMs: 15_000,
    log: () => {},
  });
  const store = openStore(":memory:");
  try {
    const server = await startTestServer({ store, cluster });
    return Object.assign(server, {
      cluster,
      async [Symbol.asyncDispose]() {
        await server.shutdown();
        await cluster.close();
        store.close();
      },
    });
  } catch (error) {
    await cluster.close();
    store.close();
    throw error;
  }
}

Deno.test({
  name:
    "a cluster node holds at most its inbox mark and one frame of what a connection sends behind a line waiting for NATS, and routes none of it",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    await using a = await startNode(nats.url);
    const alice = await TestClient.connect(a, "alice");
    const bob = await TestClient.connect(a, "bob");
    try {
      const text = (line: string) => new TextEncoder().encode(line);
      await nats.crash();
      void alice.client.request(
        { t: "say", cid: "ab".repeat(16) },
        text("held"),
      ).catch(
        () => null,
      );
      // 2,048 lines of 16,000 bytes: 32 MB the client hands its socket.
      const line = text("x".repeat(16_000));
      const sent = COUNT * line.byteLength;
      // Each with its cid, as the reference clients send lines: one
      // without is answered "could not confirm" after 5 s instead.
      Array.from(
        { length: COUNT },
        (_, n) =>
          alice.client.request({
            t: "msg",
            to: "bob",
            cid: n.toString(16).padStart(32, "0"),
          }, line).catch(() => null),
      );
      let alive = 0;
      await alice.waitFor(
        ({ message }) => message.t === "alive" && ++alive >= 2,
        3 * WAIT_MS,
      );
      const read = a.peakUnreadBytes;
      console.log(
        `sent behind the line: ${sent} bytes; the node read at most ${read} bytes of them (bound ${
          INBOX_MARK + 2 * MAX_FRAME_BYTES
        })`,
      );
      // The mark was reached (the client did not hold back), not passed by
      // more than the frame that crossed it and the one being handled.
      assert.ok(read >= INBOX_MARK, `${read}`);
      assert.ok(read <= INBOX_MARK + 2 * MAX_FRAME_BYTES, `${read}`);
      assert.equal(
        bob.inbox.filter(({ message }) => message.t === "private").length,
        0,
      );
    } finally {
      alice.client.abort();
      await bob.quit();
    }
  },
});
