/**
 * The message log against a real `nats-server -js` (issue 19): what
 * JetStream does with our records, ids and consumer.
 */

import assert from "node:assert/strict";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import { ClusterLog } from "../../../src/server/cluster/log.ts";
import { connectNats } from "../../../src/server/cluster/nats.ts";
import type { LogRecord } from "../../../src/server/cluster/log_record.ts";
import { WAIT_MS } from "../../_helpers/patience.ts";

const NATS = await natsServerPath();
const body = new TextEncoder().encode("hi");
const CID = "00112233445566778899aabbccddeeff";

Deno.test({
  name:
    "ClusterLog has one id for every node, numbers records in one sequence, stores a retry with the same sender and cid once, and hands every record to a node in order, skipping one that does not decode",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "log-test");
    const lines: string[] = [];
    try {
      const log = await ClusterLog.open(nc, (line) => lines.push(line));
      // A second node opens the same stream, with the same id.
      const again = await ClusterLog.open(nc, () => {});
      assert.match(log.id, /^[0-9a-f]{32}$/);
      assert.equal(again.id, log.id);
      const first: LogRecord = {
        kind: "private",
        from: "alice",
        to: "bob",
        ts: 1,
        cid: CID,
        body,
      };
      const one = await log.publish(first);
      const retry = await log.publish({ ...first, ts: 2 });
      assert.deepEqual(one, { seq: 1, duplicate: false });
      assert.deepEqual(retry, { seq: 1, duplicate: true });
      // The same cid from someone else is another message.
      const other = await log.publish({ ...first, from: "carol" });
      assert.deepEqual(other, { seq: 2, duplicate: false });
      // Something that is not a record, on the log's subjects.
      nc.publish("chat.log.room", new Uint8Array([1, 2]));
      const ack = await log.publish({ kind: "user", name: "dave" });
      assert.equal(ack.seq, 4);

      const applied: [number, string][] = [];
      const lasts: number[] = [];
      log.start(1, (records, last) => {
        for (const { seq, record } of records) applied.push([seq, record.kind]);
        lasts.push(last);
      }).catch(() => {});
      await log.caughtUp(5_000);
      assert.deepEqual(applied, [[1, "private"], [2, "private"], [4, "user"]]);
      assert.match(lines.join("\n"), /skipped log record 3 on chat\.log\.room/);
      // Batches cover every sequence, the skipped one too, in order.
      assert.equal(lasts.at(-1), 4);
      assert.deepEqual(lasts, [...lasts].sort((a, b) => a - b));
      // Later records come as they are published.
      const later = await log.publish({
        kind: "public",
        from: "a",
        ts: 3,
        body,
      });
      await log.applied(later.seq, WAIT_MS);
      assert.deepEqual(applied.at(-1), [5, "public"]);

      // A store ahead of the log was not made by this cluster.
      await log.check(5, "node1");
      await assert.rejects(
        log.check(6, "node1"),
        /The database in node1 holds messages the cluster's log does not \(message 6, the log ends at 5\)/,
      );
      log.stop();
    } finally {
      await nc.close();
    }
  },
});

Deno.test({
  name: "ClusterLog.applied gives up after its deadline, saying how far it got",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "log-test");
    try {
      const log = await ClusterLog.open(nc, () => {});
      await assert.rejects(
        log.applied(3, 50),
        /the message log was not read back up to 3 within 50 ms \(at 0\)/,
      );
    } finally {
      await nc.close();
    }
  },
});
