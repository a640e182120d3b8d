import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openStore } from "../../src/store/sqlite_store.ts";

const KIB = 1024;
const body = (n: number) => new TextEncoder().encode(`${n} `.padEnd(4000, "x"));

async function withTempDir(fn: (dir: string) => Promise<void> | void) {
  const dir = await Deno.makeTempDir({ prefix: "chat_store_cap_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads the file through a connection of its own, as another process would. */
function inspect<T>(path: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const count = (db: DatabaseSync, where: string) =>
  Number(
    db.prepare(`SELECT count(*) AS n FROM messages WHERE ${where}`).get()?.n,
  );

Deno.test("SqliteStore with maxBytes deletes the oldest public messages past the cap, keeps the newest and reuses the freed pages", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const maxBytes = 256 * KIB;
    const notices: string[] = [];
    const store = openStore(path, {
      maxBytes,
      capCheckEvery: 1,
      notice: (line) => notices.push(line),
    });
    let last = 0;
    try {
      store.ensureUser("a", "a", 1);
      for (let i = 1; i <= 300; i++) {
        last = store.transaction(() =>
          store.appendPublic({
            ts: i,
            fromKey: "a",
            fromName: "a",
            body: body(i),
          })
        ).id;
        // Checked after every commit here: never more than one message over.
        assert.ok(store.usedBytes() <= maxBytes + 16 * KIB, `at ${i}`);
      }
      assert.equal(store.full(), false);
      const newest = store.history({ kind: "public" }, 1)[0];
      assert.equal(newest?.id, last);
    } finally {
      store.close();
    }
    // 300 messages of 4 KB were written, about 1.2 MB: the file holds a
    // fraction of them and grew no further than the cap and one step.
    inspect(path, (db) => {
      const kept = count(db, "kind = 'public'");
      assert.ok(kept > 10 && kept < 70, `${kept} kept`);
      assert.equal(count(db, "id <= 100"), 0, "the oldest went first");
      const pages = db.prepare(
        "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
      ).get()?.n;
      assert.ok(Number(pages) <= maxBytes + 32 * KIB, `${pages} bytes`);
    });
    assert.deepEqual(notices, [], "pruning alone is not worth a line");
  });
});

Deno.test("SqliteStore with maxBytes never deletes a message still owed; is full, then has room once they are delivered", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const notices: string[] = [];
    const store = openStore(path, {
      maxBytes: 256 * KIB,
      capCheckEvery: 1,
      notice: (line) => notices.push(line),
    });
    const owed: number[] = [];
    try {
      store.ensureUser("a", "a", 1);
      store.ensureUser("b", "b", 1);
      for (let i = 1; i <= 10; i++) {
        store.transaction(() =>
          store.appendPublic({
            ts: i,
            fromKey: "a",
            fromName: "a",
            body: body(i),
          })
        );
      }
      const tell = (i: number, delivered: boolean) =>
        store.transaction(() =>
          store.appendMessage({
            ts: 100 + i,
            kind: "private",
            toKey: "b",
            fromKey: "a",
            fromName: "a",
            body: body(i),
            recipients: [{ userKey: "b", delivered }],
          })
        );
      for (let i = 0; i < 200 && !store.full(); i++) {
        owed.push(tell(i, false).id);
      }
      assert.equal(store.full(), true, "only owed messages are left");
      assert.equal(notices.length, 1, notices.join("\n"));
      assert.match(notices[0]!, /^The store is full .* still owed to someone/);
      // Every owed message is still there; the public ones but the newest
      // made room first.
      assert.deepEqual(
        store.pendingFor("b", 1000).map((m) => m.id),
        owed,
      );
      assert.equal(store.history({ kind: "public" }, 100).length, 1);

      // Delivered: they may go now, but the conversation's newest stays and
      // its seq goes on.
      const lastSeq = store.pendingFor("b", 1000).at(-1)!.seq;
      store.transaction(() => {
        for (const id of owed) store.markDelivered(id, "b");
      });
      assert.equal(store.full(), false);
      assert.equal(notices.length, 2);
      assert.match(notices[1]!, /^The store has room again/);
      const next = tell(1000, false);
      assert.equal(next.seq, lastSeq + 1);
    } finally {
      store.close();
    }
    inspect(path, (db) => {
      const left = count(db, "kind = 'private'");
      assert.ok(left >= 2 && left < owed.length, `${left} left`);
      assert.equal(count(db, `id = ${owed.at(-1)}`), 1, "the newest stays");
    });
  });
});

Deno.test("SqliteStore with maxBytes 0 or none keeps every message", () => {
  const store = openStore(":memory:", { maxBytes: 0, capCheckEvery: 1 });
  try {
    store.ensureUser("a", "a", 1);
    for (let i = 1; i <= 100; i++) {
      store.transaction(() =>
        store.appendPublic({
          ts: i,
          fromKey: "a",
          fromName: "a",
          body: body(i),
        })
      );
    }
    assert.equal(store.history({ kind: "public" }, 500).length, 100);
    assert.equal(store.full(), false);
  } finally {
    store.close();
  }
});

Deno.test("openStore refuses a negative cap", () => {
  assert.throws(() => openStore(":memory:", { maxBytes: -1 }), RangeError);
});

Deno.test("SqliteStore with maxBytes deletes delivered messages past older ones still owed, batch after batch", () => {
  const store = openStore(":memory:", {
    maxBytes: 160 * KIB,
    capCheckEvery: 1,
  });
  try {
    store.ensureUser("a", "a", 1);
    store.ensureUser("b", "b", 1);
    const tell = (i: number, delivered: boolean) =>
      store.appendMessage({
        ts: i,
        kind: "private",
        toKey: "b",
        fromKey: "a",
        fromName: "a",
        body: new TextEncoder().encode(`${i} `.padEnd(60, "z")),
        recipients: [{ userKey: "b", delivered }],
      }).id;
    // One transaction, checked once after it: the owed ones come first, so
    // every batch of the prune (256 messages) has to pass them.
    const owed: number[] = [];
    store.transaction(() => {
      for (let i = 0; i < 300; i++) owed.push(tell(i, false));
      for (let i = 300; i < 2000; i++) tell(i, true);
    });
    assert.ok(store.usedBytes() <= 160 * KIB, `${store.usedBytes()} bytes`);
    assert.equal(store.full(), false);
    assert.deepEqual(store.pendingFor("b", 1000).map((m) => m.id), owed);
    const left = store.history(
      { kind: "private", viewerKey: "b", otherKey: "a" },
      2000,
    ).length;
    assert.ok(left < 2000 - 2 * 256, `${left} left: more than two batches`);
  } finally {
    store.close();
  }
});
