// A store at its cap gives up first what the heaviest sender sent the user
// owed the most. Counted by account, 200 names made from one address, each
// sending an offline carol 10 KB, were each lighter than alice's 100 KB:
// alice kept 4 of her 100 messages while the flood stayed (found by an
// attacker; names cost 30 at once and 10 a minute per address). The
// accounts registered from one address group now weigh as one sender
// (sender_groups.ts).
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { migrate, MIGRATIONS } from "../../src/store/migrations.ts";
import { openStore, type SqliteStore } from "../../src/store/sqlite_store.ts";

const KIB = 1024;
const kib = (tag: string) =>
  new TextEncoder().encode(`${tag} `.padEnd(1000, "x"));

function open(path = ":memory:"): SqliteStore {
  return openStore(path, {
    maxBytes: 1024 * KIB,
    capCheckBudgetMs: Infinity,
    capCheckEvery: 1,
  });
}

function account(store: SqliteStore, name: string, from: string | null) {
  store.ensureUser(name, name, 1);
  if (from !== null) store.noteRegisteredFrom(name, from);
}

function priv(store: SqliteStore, from: string, to: string, tag: string) {
  store.transaction(() =>
    store.appendMessage({
      ts: 1,
      kind: "private",
      toKey: to,
      fromKey: from,
      fromName: from,
      body: kib(tag),
      recipients: [{ userKey: to, delivered: false }],
    })
  );
}

/** How many of what waits for `user` each sender still has waiting. */
function keptBySender(store: SqliteStore, user: string): Map<string, number> {
  const kept = new Map<string, number>();
  for (const m of store.pendingFor(user, 1_000_000)) {
    kept.set(m.fromKey, (kept.get(m.fromKey) ?? 0) + 1);
  }
  return kept;
}

Deno.test("SqliteStore at its cap: 200 names made from one address, each sending carol 10 KB, lose theirs before alice's 100 KB", () => {
  const store = open();
  try {
    account(store, "carol", "192.168.1.20");
    account(store, "alice", "192.168.1.10");
    for (let i = 0; i < 100; i++) priv(store, "alice", "carol", `a${i}`);
    for (let s = 0; s < 200; s++) {
      account(store, `sybil${s}`, "192.168.1.66");
      for (let i = 0; i < 10; i++) priv(store, `sybil${s}`, "carol", `s${i}`);
    }
    const kept = keptBySender(store, "carol");
    let sybils = 0;
    for (const [from, n] of kept) if (from.startsWith("sybil")) sybils += n;
    void (`alice kept ${
      kept.get("alice")
    }/100; sybils kept ${sybils}/2000; dropped ${store.takeDropped("carol")}`);
    assert.ok(sybils < 2000, "the store never reached its cap");
    assert.equal(kept.get("alice"), 100, "alice lost messages to the sybils");
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore at its cap: a flooder behind a class's address loses its flood, its classmates keep theirs", () => {
  const store = open();
  try {
    account(store, "carol", "10.0.0.2");
    account(store, "alice", "10.0.0.10");
    for (let i = 0; i < 100; i++) priv(store, "alice", "carol", `a${i}`);
    // A class behind one NAT address: ten write carol 20 KB each, one
    // floods her with 2 MB.
    for (let c = 0; c < 10; c++) account(store, `class${c}`, "203.0.113.7");
    account(store, "mallory", "203.0.113.7");
    for (let i = 0; i < 20; i++) {
      for (let c = 0; c < 10; c++) priv(store, `class${c}`, "carol", `c${i}`);
    }
    for (let i = 0; i < 2000; i++) priv(store, "mallory", "carol", `m${i}`);
    const kept = keptBySender(store, "carol");
    void (`kept ${JSON.stringify([...kept])}`);
    assert.ok((kept.get("mallory") ?? 0) < 2000, "the flood was all kept");
    assert.equal(kept.get("alice"), 100);
    for (let c = 0; c < 10; c++) assert.equal(kept.get(`class${c}`), 20);
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore at its cap: a class of one address that outweighs alice together loses its own messages, evenly among its members", () => {
  const store = open();
  try {
    account(store, "carol", "10.0.0.2");
    account(store, "alice", "10.0.0.10");
    // alice sends more than any classmate, less than the class.
    for (let i = 0; i < 150; i++) priv(store, "alice", "carol", `a${i}`);
    for (let c = 0; c < 10; c++) account(store, `class${c}`, "203.0.113.7");
    for (let i = 0; i < 100; i++) {
      for (let c = 0; c < 10; c++) priv(store, `class${c}`, "carol", `c${i}`);
    }
    const kept = keptBySender(store, "carol");
    const classKept = Array.from(
      { length: 10 },
      (_, c) => kept.get(`class${c}`) ?? 0,
    );
    void (`alice kept ${kept.get("alice")}/150; class kept ${classKept}`);
    assert.equal(kept.get("alice"), 150, "alice lost messages to the class");
    assert.ok(
      classKept.reduce((a, b) => a + b) < 1000,
      "the store never reached its cap",
    );
    // Fair among themselves: the heaviest member gives up a batch (32) at
    // a time, so no two differ by more than that and a round of the class.
    assert.ok(
      Math.max(...classKept) - Math.min(...classKept) <= 33,
      `uneven: ${classKept}`,
    );
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore opens a store of schema 12 with waiting messages: its accounts weigh alone, new ones by their address", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/chat.db`;
  try {
    const db = new DatabaseSync(path);
    migrate(db, MIGRATIONS.slice(0, 12));
    db.exec(`
      INSERT INTO users (name_key, name, created_at)
        VALUES ('alice', 'alice', 1), ('carol', 'carol', 1);
      INSERT INTO messages (ts, kind, from_key, from_name, to_key, body, seq)
        VALUES (1, 'private', 'alice', 'alice', 'carol', zeroblob(1000), 1);
      INSERT INTO deliveries (message_id, user_key, delivered)
        VALUES (1, 'carol', 0);
    `);
    db.close();
    const store = open(path);
    try {
      for (let i = 1; i < 100; i++) priv(store, "alice", "carol", `a${i}`);
      for (let s = 0; s < 200; s++) {
        account(store, `sybil${s}`, "192.168.1.66");
        for (let i = 0; i < 10; i++) {
          priv(store, `sybil${s}`, "carol", `s${i}`);
        }
      }
      assert.equal(keptBySender(store, "carol").get("alice"), 100);
    } finally {
      store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// Not done: within one address group accounts weigh one by one, and on an
// IPv6 LAN every on-link peer is in the server's /64, one group. Telling
// friends apart there needs what the recipient did (wrote to them: kept
// apart from messages, which pruning deletes before anything is given up)
// or the account's age; neither is recorded yet.
Deno.test({
  name:
    "SqliteStore at its cap: 200 names made on alice's own /64 lose theirs before alice's 100 KB",
  ignore: true,
  fn: () => {
    const store = open();
    try {
      account(store, "carol", "fd00:1:2:3::/64");
      account(store, "alice", "fd00:1:2:3::/64");
      for (let i = 0; i < 100; i++) priv(store, "alice", "carol", `a${i}`);
      for (let s = 0; s < 200; s++) {
        account(store, `sybil${s}`, "fd00:1:2:3::/64");
        for (let i = 0; i < 10; i++) {
          priv(store, `sybil${s}`, "carol", `s${i}`);
        }
      }
      assert.equal(keptBySender(store, "carol").get("alice"), 100);
    } finally {
      store.close();
    }
  },
});
