import assert from "node:assert/strict";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  DELIVERY_COST,
  MAX_SENDERS_FOLLOWED,
} from "../../src/store/owed_mailboxes.ts";
import { StoreCap } from "../../src/store/store_cap.ts";
import { Transactions } from "../../src/store/transactions.ts";
import type { Row } from "../../src/store/rows.ts";

/** Counts the rows each read hands over. */
class CountingTransactions extends Transactions {
  rows = 0;
  override all(sql: string, ...params: SQLInputValue[]): Row[] {
    const rows = super.all(sql, ...params);
    this.rows += rows.length;
    return rows;
  }
}

Deno.test("StoreCap.readOwed reads a few heaviest senders of each user and the rest summed, not a row for each user and sender", async () => {
  // A group of 24 where each member wrote once (and one of them 3 times
  // more): 552 pairs of user and sender wait. A group of 1000 where each
  // member wrote once was a million rows, 11 s and 590 MB at open.
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.db`;
    const members = Array.from({ length: 24 }, (_, i) => `user${i}`);
    const store = openStore(path);
    let sizes = 0;
    try {
      for (const key of members) store.ensureUser(key, key, 1);
      store.createGroup("g", "g", "user0", 1);
      const say = (from: string, words: string) =>
        store.transaction(() =>
          store.appendMessage({
            ts: 1,
            kind: "group",
            groupKey: "g",
            fromKey: from,
            fromName: from,
            body: new TextEncoder().encode(words),
            recipients: members.filter((key) => key !== from).map((
              userKey,
            ) => ({ userKey, delivered: false })),
          })
        );
      for (const from of members) {
        say(from, `hello from ${from}`);
        if (from !== "user5") sizes += `hello from ${from}`.length;
      }
      for (let i = 0; i < 3; i++) say("user5", `a longer line, number ${i}`);
    } finally {
      store.close();
    }
    const db = new DatabaseSync(path);
    try {
      const tx = new CountingTransactions(db, path);
      const cap = new StoreCap(tx, {
        maxBytes: 1 << 30,
        checkEvery: 1,
        checkBudgetMs: 50,
        notice: () => {},
        lastMessageId: () => 0,
      });
      const owed = cap.readOwed()!;
      assert.ok(
        tx.rows <= members.length * (MAX_SENDERS_FOLLOWED + 1),
        `${tx.rows} rows`,
      );
      // user0 waits for the 23 others' first lines and user5's three more.
      const of0 = owed.of("user0");
      const longer = [0, 1, 2].reduce(
        (sum, i) => sum + `a longer line, number ${i}`.length,
        0,
      );
      assert.deepEqual(of0, {
        count: 26,
        bytes: sizes - "hello from user0".length + "hello from user5".length +
          longer + 26 * DELIVERY_COST,
      });
      // Sender keys (sender_groups.ts): "n " and the name key of an
      // account with no address group recorded.
      assert.equal(owed.heaviestSender("user0"), "n user5");
      // One of those with the longest lines (two-digit names).
      assert.match(owed.heaviestSender("user5") ?? "", /^n user\d\d$/);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
