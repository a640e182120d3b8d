/**
 * The message log's retention against a real `nats-server -js` (issue 19,
 * docs/SCALING.md "Retention"): the limits set on CHAT_LOG, and what a
 * node that has not applied records the log no longer holds is told.
 */

import assert from "node:assert/strict";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import {
  ClusterLog,
  DEFAULT_RETENTION,
  DUPLICATE_WINDOW_MS,
  type SequencedRecord,
} from "../../../src/server/cluster/log.ts";
import {
  connectNats,
  jetstreamManager,
} from "../../../src/server/cluster/nats.ts";
import { LOG_STREAM } from "../../../src/server/cluster/subjects.ts";

const NATS = await natsServerPath();
const body = new TextEncoder().encode("hi");
const MS = 1_000_000;

Deno.test({
  name:
    "ClusterLog.open gives a new CHAT_LOG a week's retention, sets the limits asked for on an existing one (the duplicate window no longer than the age), and leaves them when none are asked for",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "log-retention-test");
    try {
      const jsm = await jetstreamManager(nc);
      const lines: string[] = [];
      const config = async () => (await jsm.streams.info(LOG_STREAM)).config;
      await ClusterLog.open(nc, (line) => lines.push(line));
      let now = await config();
      assert.equal(now.max_age, DEFAULT_RETENTION.maxAgeMs * MS);
      assert.equal(now.max_bytes, -1);
      assert.equal(now.duplicate_window, DUPLICATE_WINDOW_MS * MS);
      assert.equal(lines.length, 0);

      await ClusterLog.open(nc, (line) => lines.push(line), {
        maxAgeMs: 30_000,
        maxBytes: 1024 * 1024,
      });
      now = await config();
      assert.equal(now.max_age, 30_000 * MS);
      assert.equal(now.max_bytes, 1024 * 1024);
      assert.equal(now.duplicate_window, 30_000 * MS);
      assert.match(
        lines.join("\n"),
        /the message log now keeps records for 30 seconds, up to 1 MiB \(it kept records for 7 days, of any total size\)/,
      );

      // A node started without the flags keeps the operator's choice.
      await ClusterLog.open(nc, (line) => lines.push(line));
      now = await config();
      assert.equal(now.max_age, 30_000 * MS);
      assert.equal(lines.length, 1);
      // Only what is asked for changes; 0 is no limit.
      await ClusterLog.open(nc, () => {}, { maxAgeMs: 0 });
      now = await config();
      assert.equal(now.max_age, 0);
      assert.equal(now.max_bytes, 1024 * 1024);
      assert.equal(now.duplicate_window, DUPLICATE_WINDOW_MS * MS);
    } finally {
      await nc.close();
    }
  },
});

Deno.test({
  name:
    "ClusterLog.check refuses a database that has not applied records the log no longer holds, naming them and what to do, and takes one whose position is at the log's first record; start says so of a gap",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "log-retention-test");
    try {
      const log = await ClusterLog.open(nc, () => {});
      for (let ts = 1; ts <= 4; ts++) {
        await log.publish({ kind: "public", from: "alice", ts, body });
      }
      await log.publish({ kind: "user", name: "bob" });
      // As retention would: the first three records are gone.
      const jsm = await jetstreamManager(nc);
      await jsm.streams.purge(LOG_STREAM, { seq: 4 });
      assert.equal((await jsm.streams.info(LOG_STREAM)).state.first_seq, 4);

      // A new node's empty database.
      await assert.rejects(
        log.check(0, "data/c"),
        /The cluster's log no longer holds records 1 to 3, which the database in data\/c has not applied \(the log's retention removed them; it starts at 4\)\. Start this node on a copy of a current node's database: sqlite3 OTHER\/chat\.db "VACUUM INTO 'data\/c\/chat\.db'"/,
      );
      await assert.rejects(log.check(2, "data/c"), /records 3 to 3/);
      // Its newest message is 3: it needs 4 on, which the log has.
      await log.check(3, "data/c");
      // Its newest message is 1 but it applied the log up to 3.
      await log.check(1, "data/c", 4);
      // Everything applied: the log may have dropped all of it.
      await jsm.streams.purge(LOG_STREAM);
      await log.check(4, "data/c", 6);
      await assert.rejects(log.check(4, "data/c", 5), /records 5 to 5/);

      // A reader whose records were removed under it says so.
      await log.publish({ kind: "public", from: "alice", ts: 9, body });
      const lines: string[] = [];
      const reader = await ClusterLog.open(nc, (line) => lines.push(line));
      const applied: number[] = [];
      reader.start(3, (records: readonly SequencedRecord[]) => {
        for (const { seq } of records) applied.push(seq);
      }).catch(() => {});
      await reader.caughtUp(5_000);
      assert.deepEqual(applied, [6]);
      assert.match(
        lines.join("\n"),
        /the message log no longer holds records 3 to 5, which this node has not applied/,
      );
      reader.stop();
    } finally {
      await nc.close();
    }
  },
});
