// Seqs never go back nor repeat, whatever pruning and giving up delete (the
// newest of a conversation too, edbb527), across reopens (written in review).
import assert from "node:assert/strict";
import { openStore, type SqliteStore } from "../../src/store/sqlite_store.ts";

Deno.test("SqliteStore under random traffic at a small cap, reopened now and then: every conversation's seq goes up by one each message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_seq_fuzz_" });
  const path = `${dir}/chat.db`;
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const users = ["a", "b", "c", "d", "e"];
  const open = () =>
    openStore(path, {
      maxBytes: 200 * 1024,
      capCheckBudgetMs: Infinity,
      capCheckEvery: 1,
    });
  let store: SqliteStore = open();
  try {
    for (const u of users) store.ensureUser(u, u, 1);
    store.createGroup("g", "g", "a", 1);
    store.createGroup("h", "h", "b", 1);
    const last = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      if (i % 500 === 499) {
        store.close();
        store = open();
      }
      const from = users[rnd(5)]!;
      const size = 1 + rnd(3000);
      const body = new Uint8Array(size).fill(65);
      const k = rnd(10);
      let key: string;
      let pos;
      if (k < 2) {
        key = "public";
        pos = store.transaction(() =>
          store.appendPublic({ ts: i, fromKey: from, fromName: from, body })
        );
      } else if (k < 6) {
        const to = users.filter((u) => u !== from)[rnd(4)]!;
        key = `p ${[from, to].sort().join(" ")}`;
        pos = store.transaction(() =>
          store.appendMessage({
            ts: i,
            kind: "private",
            toKey: to,
            fromKey: from,
            fromName: from,
            body,
            recipients: [{ userKey: to, delivered: rnd(2) === 0 }],
          })
        );
      } else {
        const g = rnd(2) === 0 ? "g" : "h";
        key = `g ${g}`;
        pos = store.transaction(() =>
          store.appendMessage({
            ts: i,
            kind: "group",
            groupKey: g,
            fromKey: from,
            fromName: from,
            body,
            recipients: users.filter((u) => u !== from).map((userKey) => ({
              userKey,
              delivered: rnd(3) === 0,
            })),
          })
        );
      }
      const before = last.get(key) ?? 0;
      assert.equal(pos.seq, before + 1, `${key} at ${i}`);
      last.set(key, pos.seq);
      // Someone acknowledges a conversation now and then.
      if (rnd(4) === 0) {
        const u = users[rnd(5)]!;
        const other = users.filter((x) => x !== u)[rnd(4)]!;
        store.acknowledge(u, { kind: "private", otherKey: other }, 1e9);
        store.acknowledge(
          u,
          { kind: "group", groupKey: rnd(2) ? "g" : "h" },
          1e9,
        );
      }
    }
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
