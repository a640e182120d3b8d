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

/** `from`'s private message to bob, who is away: its id. */
function tellBob(
  store: ReturnType<typeof openStore>,
  from: string,
  ts: number,
  said: Uint8Array,
): number {
  return store.transaction(() =>
    store.appendMessage({
      ts,
      kind: "private",
      toKey: "bob",
      fromKey: from,
      fromName: from,
      body: said,
      recipients: [{ userKey: "bob", delivered: false }],
    })
  ).id;
}

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

Deno.test("SqliteStore with maxBytes gives up the oldest messages waiting for the one user owed everything, keeps the newest, and says so once", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const notices: string[] = [];
    const store = openStore(path, {
      maxBytes: 1024 * KIB,
      capCheckBudgetMs: Infinity,
      capCheckEvery: 1,
      notice: (line) => notices.push(line),
    });
    const owed: number[] = [];
    try {
      store.ensureUser("a", "a", 1);
      store.ensureUser("b", "b", 1);
      const tell = (i: number) =>
        store.transaction(() =>
          store.appendMessage({
            ts: 100 + i,
            kind: "private",
            toKey: "b",
            fromKey: "a",
            fromName: "a",
            body: body(i),
            recipients: [{ userKey: "b", delivered: false }],
          })
        );
      for (let i = 0; i < 600; i++) {
        owed.push(tell(i).id);
        assert.equal(store.full(), false, `at ${i}`);
        assert.ok(store.usedBytes() <= 1024 * KIB + 16 * KIB, `at ${i}`);
      }
      // 2.4 MB for b alone: the oldest went, the newest wait, in order.
      const waiting = store.pendingFor("b", 1000).map((m) => m.id);
      assert.ok(
        waiting.length > 150 && waiting.length < 256,
        `${waiting.length} waiting`,
      );
      assert.deepEqual(waiting, owed.slice(-waiting.length));
      assert.equal(store.takeDropped("b"), 600 - waiting.length);
      assert.equal(store.takeDropped("b"), 0, "told once");
      assert.equal(store.takeDropped("a"), 0);
      assert.equal(notices.length, 1, notices.join("\n"));
      assert.match(
        notices[0]!,
        /^The store is at its cap .* giving up the oldest waiting for the 1 user\(s\) owed the most \(b: /,
      );
      // The conversation's seq goes on from the newest.
      const lastSeq = store.pendingFor("b", 1000).at(-1)!.seq;
      assert.equal(tell(1000).seq, lastSeq + 1);
    } finally {
      store.close();
    }
  });
});

Deno.test("SqliteStore with maxBytes gives up the flood of the one who sent an absent user the most, not what others sent them before it, across a restart too", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const open = () =>
      openStore(path, {
        maxBytes: 1024 * KIB,
        capCheckBudgetMs: Infinity,
        capCheckEvery: 1,
      });
    const text = (words: string) => new TextEncoder().encode(words);
    const tell = tellBob;
    let store = open();
    const flood: number[] = [];
    let before: number[] = [];
    try {
      for (const key of ["alice", "carol", "mallory", "bob"]) {
        store.ensureUser(key, key, 1);
      }
      // bob is away: the teacher's and a friend's messages wait for him,
      // then mallory sends him 2.4 MB, over twice the store's room.
      before = [
        tell(store, "alice", 1, text("homework: page 12, due Monday")),
        tell(store, "carol", 2, text("see you at 10")),
      ];
      for (let i = 0; i < 300; i++) {
        flood.push(tell(store, "mallory", 10 + i, body(i)));
        assert.equal(store.full(), false, `at ${i}`);
      }
    } finally {
      store.close();
    }
    // What each user is owed, by sender, is read from the file at open.
    store = open();
    try {
      for (let i = 300; i < 600; i++) {
        flood.push(tell(store, "mallory", 10 + i, body(i)));
        assert.equal(store.full(), false, `at ${i}`);
      }
      const after = tell(store, "alice", 1000, text("did you get it?"));
      assert.ok(store.usedBytes() <= 1024 * KIB + 16 * KIB);
      const waiting = store.pendingFor("bob", 1000).map((m) => m.id);
      assert.deepEqual(waiting.slice(0, 2), before, "alice's and carol's wait");
      assert.equal(waiting.at(-1), after);
      const kept = waiting.slice(2, -1);
      assert.ok(kept.length > 100 && kept.length < 256, `${kept.length} kept`);
      assert.deepEqual(kept, flood.slice(-kept.length), "the flood's newest");
      assert.equal(store.takeDropped("bob"), 600 - kept.length);
    } finally {
      store.close();
    }
  });
});

Deno.test("SqliteStore with maxBytes gives up a flood sent in turns from two accounts, not what eight friends sent the absent user before it", () => {
  // Eight friends fill the senders followed for bob; mallory and her second
  // account then take turns: each new sender took the place of the
  // lightest, so each of the two pushed the other out at one message, and
  // the friends, heavier, were given up first.
  const store = openStore(":memory:", {
    maxBytes: 1024 * KIB,
    capCheckBudgetMs: Infinity,
    capCheckEvery: 1,
  });
  try {
    const friends = Array.from({ length: 8 }, (_, i) => `friend${i}`);
    for (const key of ["bob", "mallory", "mallory2", ...friends]) {
      store.ensureUser(key, key, 1);
    }
    const tell = (from: string, ts: number, said: Uint8Array) =>
      tellBob(store, from, ts, said);
    const before: number[] = [];
    for (const from of friends) {
      before.push(tell(from, 1, body(1)), tell(from, 2, body(2)));
    }
    for (let i = 0; i < 600; i++) {
      tell(i % 2 === 0 ? "mallory" : "mallory2", 10 + i, body(i));
      assert.equal(store.full(), false, `at ${i}`);
    }
    const waiting = store.pendingFor("bob", 1000).map((m) => m.id);
    assert.deepEqual(waiting.slice(0, before.length), before, "the friends'");
    assert.ok(store.takeDropped("bob") > 300);
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore with maxBytes, flooded through accounts made for it, gives up their flood and keeps what waits for everyone else", () => {
  // Issue 21's resources review: accounts made to join a group and never
  // come back were owed every message of a flood, until the store refused
  // everyone's messages. 60 such members, one member away for real (owed
  // the flood too, as a member), and one owed only small private messages.
  const store = openStore(":memory:", {
    maxBytes: 1024 * KIB,
    capCheckBudgetMs: Infinity,
    capCheckEvery: 1,
  });
  try {
    const members = Array.from({ length: 60 }, (_, i) => `sock${i}`);
    for (const key of ["mallory", "away", "carol", "alice", ...members]) {
      store.ensureUser(key, key, 1);
    }
    store.createGroup("g", "g", "mallory", 1);
    const quiet: number[] = [];
    const flood: number[] = [];
    for (let i = 0; i < 600; i++) {
      if (i % 20 === 0) {
        quiet.push(
          store.transaction(() =>
            store.appendMessage({
              ts: i,
              kind: "private",
              toKey: "carol",
              fromKey: "alice",
              fromName: "alice",
              body: new TextEncoder().encode(`see you at ${i}`),
              recipients: [{ userKey: "carol", delivered: false }],
            })
          ).id,
        );
      }
      flood.push(
        store.transaction(() =>
          store.appendMessage({
            ts: i,
            kind: "group",
            groupKey: "g",
            fromKey: "mallory",
            fromName: "mallory",
            body: body(i),
            recipients: [...members, "away"].map((userKey) => ({
              userKey,
              delivered: false,
            })),
          })
        ).id,
      );
      assert.equal(store.full(), false, `at ${i}`);
    }
    assert.ok(
      store.usedBytes() <= 1024 * KIB + 64 * KIB,
      `${store.usedBytes()} bytes`,
    );
    // carol's 30 small messages all wait, none given up.
    assert.deepEqual(store.pendingFor("carol", 1000).map((m) => m.id), quiet);
    assert.equal(store.takeDropped("carol"), 0);
    // The flood's members lost its oldest together: they wait for the
    // same newest ones, and each is told how many went.
    const kept = store.pendingFor("away", 1000).map((m) => m.id);
    assert.ok(kept.length > 20 && kept.length < 300, `${kept.length} kept`);
    assert.deepEqual(kept, flood.slice(-kept.length));
    assert.deepEqual(
      store.pendingFor("sock7", 1000).map((m) => m.id),
      kept,
    );
    assert.equal(store.takeDropped("away"), 600 - kept.length);
    assert.equal(store.takeDropped("sock59"), 600 - kept.length);
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore with maxBytes deletes the newest message of a conversation too, whose seq goes on, after a restart as well", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const open = () =>
      openStore(path, {
        maxBytes: 256 * KIB,
        capCheckBudgetMs: Infinity,
        capCheckEvery: 1,
      });
    const tell = (store: ReturnType<typeof open>, to: string, i: number) =>
      store.transaction(() =>
        store.appendMessage({
          ts: 100 + i,
          kind: "private",
          toKey: to,
          fromKey: "a",
          fromName: "a",
          body: body(i),
          recipients: [{ userKey: to, delivered: true }],
        })
      );
    let store = open();
    try {
      store.ensureUser("a", "a", 1);
      // One message to each of 200 users, each the only one of its
      // conversation, delivered: they used to stay for ever (each carried
      // its conversation's seq), and pairs of accounts could fill a store
      // for good.
      for (let i = 0; i < 200; i++) {
        store.ensureUser(`u${i}`, `u${i}`, 1);
        assert.equal(tell(store, `u${i}`, i).seq, 1);
        assert.equal(store.full(), false, `at ${i}`);
      }
      assert.ok(store.usedBytes() <= 256 * KIB + 16 * KIB);
      assert.deepEqual(
        store.history({ kind: "private", viewerKey: "u0", otherKey: "a" }, 10),
        [],
        "u0's message was pruned",
      );
      assert.equal(tell(store, "u0", 1000).seq, 2, "its seq goes on");
    } finally {
      store.close();
    }
    store = open();
    try {
      assert.equal(tell(store, "u1", 1001).seq, 2, "after a restart too");
      assert.equal(tell(store, "u0", 1002).seq, 3);
      // Both directions share the sequence.
      const back = store.transaction(() =>
        store.appendMessage({
          ts: 2000,
          kind: "private",
          toKey: "a",
          fromKey: "u1",
          fromName: "u1",
          body: body(1),
          recipients: [{ userKey: "a", delivered: true }],
        })
      );
      assert.equal(back.seq, 3);
    } finally {
      store.close();
    }
  });
});

Deno.test("SqliteStore with maxBytes is full when what it cannot delete passes the cap, and says so once", () => {
  const notices: string[] = [];
  // Below what an empty store's tables and indexes take.
  const store = openStore(":memory:", {
    maxBytes: 16 * KIB,
    capCheckBudgetMs: Infinity,
    capCheckEvery: 1,
    notice: (line) => notices.push(line),
  });
  try {
    assert.equal(store.full(), true);
    store.ensureUser("a", "a", 1);
    assert.equal(store.full(), true);
    assert.equal(notices.length, 1, notices.join("\n"));
    assert.match(
      notices[0]!,
      /^The store is full .* with what it cannot delete/,
    );
  } finally {
    store.close();
  }
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
    capCheckBudgetMs: Infinity,
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

Deno.test("SqliteStore opened with a cap below what it holds gives up what waits for the users owed the most, as read from the table", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const members = Array.from({ length: 8 }, (_, i) => `sock${i}`);
    let store = openStore(path);
    const quiet: number[] = [];
    try {
      for (const key of ["mallory", "alice", "carol", ...members]) {
        store.ensureUser(key, key, 1);
      }
      store.createGroup("g", "g", "mallory", 1);
      store.transaction(() => {
        for (let i = 0; i < 300; i++) {
          if (i % 30 === 0) {
            quiet.push(
              store.appendMessage({
                ts: i,
                kind: "private",
                toKey: "carol",
                fromKey: "alice",
                fromName: "alice",
                body: new TextEncoder().encode(`note ${i}`),
                recipients: [{ userKey: "carol", delivered: false }],
              }).id,
            );
          }
          store.appendMessage({
            ts: i,
            kind: "group",
            groupKey: "g",
            fromKey: "mallory",
            fromName: "mallory",
            body: body(i),
            recipients: members.map((userKey) => ({
              userKey,
              delivered: false,
            })),
          });
        }
      });
    } finally {
      store.close();
    }
    store = openStore(path, {
      maxBytes: 512 * KIB,
      capCheckBudgetMs: Infinity,
      capCheckEvery: 1,
    });
    try {
      assert.equal(store.full(), false);
      assert.ok(store.usedBytes() <= 512 * KIB, `${store.usedBytes()}`);
      assert.deepEqual(store.pendingFor("carol", 100).map((m) => m.id), quiet);
      assert.equal(store.takeDropped("carol"), 0);
      const kept = store.pendingFor("sock0", 1000).length;
      assert.equal(store.takeDropped("sock0"), 300 - kept);
      assert.ok(kept > 20 && kept < 150, `${kept} kept`);
    } finally {
      store.close();
    }
  });
});
