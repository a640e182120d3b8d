import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION } from "../../src/store/migrations.ts";
import {
  MAX_OUTCOME_CHARS,
  MEMBERSHIP_PERIODS_KEPT,
  openStore,
  type SqliteStore,
  type StoreOptions,
  TRANSFERS_KEPT,
} from "../../src/store/sqlite_store.ts";
import {
  type MessagePosition,
  type StoredMessage,
  StoreError,
  TRANSFER_INTERRUPTED,
} from "../../src/store/store.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function withTempDir(fn: (dir: string) => Promise<void> | void) {
  const dir = await Deno.makeTempDir({ prefix: "chat_store_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function withMemoryStore(fn: (store: SqliteStore) => void): void {
  const store = openStore(":memory:");
  try {
    fn(store);
  } finally {
    store.close();
  }
}

/** A store in a file of its own (another connection can read it). */
async function withFileStore(
  fn: (store: SqliteStore, path: string) => Promise<void> | void,
  options: StoreOptions = {},
): Promise<void> {
  await withTempDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const store = openStore(path, options);
    try {
      await fn(store, path);
    } finally {
      store.close();
    }
  });
}

/** Adds users known since time 1, keyed by their lowercased names. */
function addUsers(store: SqliteStore, ...names: string[]): void {
  for (const name of names) store.ensureUser(name, name.toLowerCase(), 1);
}

function say(store: SqliteStore, from: string, text: string, ts: number) {
  return store.appendMessage({
    ts,
    kind: "public",
    fromKey: from,
    fromName: from,
    body: encoder.encode(text),
    recipients: [],
  }).id;
}

function tell(
  store: SqliteStore,
  from: string,
  to: string,
  text: string,
  ts: number,
  delivered = true,
) {
  return store.appendMessage({
    ts,
    kind: "private",
    toKey: to,
    fromKey: from,
    fromName: from,
    body: encoder.encode(text),
    recipients: [{ userKey: to, delivered }],
  }).id;
}

// As the server will: every current member but the sender is a recipient,
// and the offline ones have not received it yet.
function groupSay(
  store: SqliteStore,
  from: string,
  group: string,
  text: string,
  ts: number,
  offline: string[] = [],
) {
  return store.appendMessage({
    ts,
    kind: "group",
    groupKey: group,
    fromKey: from,
    fromName: from,
    body: encoder.encode(text),
    recipients: store.members(group)
      .filter((member) => member.userKey !== from)
      .map((member) => ({
        userKey: member.userKey,
        delivered: !offline.includes(member.userKey),
      })),
  }).id;
}

function texts(messages: StoredMessage[]): string[] {
  return messages.map((message) => decoder.decode(message.body));
}

Deno.test("openStore creates the database, its folder and the schema, in WAL mode", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/data/nested/chat.db`;
    const store = openStore(path);
    assert.equal(store.path, path);
    assert.deepEqual(store.integrityCheck(), []);
    store.close();
    store.close(); // harmless the second time

    const db = new DatabaseSync(path);
    try {
      const pragma = (name: string) =>
        db.prepare(`PRAGMA ${name}`).get()?.[name];
      assert.equal(pragma("journal_mode"), "wal");
      assert.equal(pragma("user_version"), SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });
});

Deno.test({
  name:
    "openStore under umask 000 creates the folder 0700 and the database, its log and shared memory 0600",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/data/chat.db`;
      // In a child started by a shell under umask 000, since changing this
      // process's umask needs --allow-sys=umask. It prints the modes while
      // the store is open (the log and shared memory exist only then).
      const module = new URL("../../src/store/sqlite_store.ts", import.meta.url)
        .href;
      const code = `
        import { openStore } from ${JSON.stringify(module)};
        const path = ${JSON.stringify(path)};
        const store = openStore(path);
        store.transaction(() => store.ensureUser("alice", "alice", 1));
        const mode = (p) => Deno.statSync(p).mode & 0o7777;
        const files = [${
        JSON.stringify(`${dir}/data`)
      }, path, path + "-wal", path + "-shm"];
        console.log(JSON.stringify(files.map(mode)));
        store.close();`;
      const output = await new Deno.Command("sh", {
        args: [
          "-c",
          `umask 000 && exec "$0" eval "$1"`,
          Deno.execPath(),
          code,
        ],
      }).output();
      assert.ok(output.success, new TextDecoder().decode(output.stderr));
      assert.deepEqual(
        JSON.parse(new TextDecoder().decode(output.stdout)),
        [0o700, 0o600, 0o600, 0o600],
      );
    });
  },
});

Deno.test({
  name:
    "openStore narrows an existing database, log and shared memory to 0600 and says so",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withTempDir((dir) => {
      const path = `${dir}/chat.db`;
      // As SQLite (and chat before issue 14) left them: 0644. The first
      // store stays open so that the log and shared memory exist.
      const first = openStore(path);
      first.transaction(() => addUsers(first, "alice"));
      const files = [path, `${path}-wal`, `${path}-shm`];
      for (const file of files) Deno.chmodSync(file, 0o644);
      const notices: string[] = [];
      const store = openStore(path, { notice: (line) => notices.push(line) });
      try {
        for (const file of files) {
          assert.equal(Deno.statSync(file).mode! & 0o777, 0o600, file);
        }
        assert.deepEqual(
          notices,
          files.map((file) =>
            `Made the database file '${file}' private: its mode was 0644, now 0600`
          ),
        );
      } finally {
        store.close();
        first.close();
      }
    });
  },
});

Deno.test("openStore(':memory:') keeps nothing from one opening to the next", () => {
  withMemoryStore((store) => addUsers(store, "alice"));
  withMemoryStore((store) => assert.deepEqual(store.listUsers(), []));
});

Deno.test("SqliteStore finds users, groups, memberships, messages and pending deliveries intact after a reopen", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    let store = openStore(path);
    let publicId = 0;
    let privateId = 0;
    let groupId = 0;
    store.transaction(() => {
      addUsers(store, "alice", "bob", "carol");
      store.bindFingerprint("alice", "SHA256:alice");
      store.touchSeen("alice", 50);
      store.createGroup("Team", "team", "alice", 10);
      store.addMember("team", "alice", "alice", 10);
      store.addMember("team", "bob", "bob", 11);
      store.createGroup("ops", "ops", "carol", 12);
      store.addMember("ops", "carol", "carol", 12);
      publicId = say(store, "alice", "hello all", 20);
      store.touchMessage("alice", 20);
      privateId = tell(store, "alice", "carol", "psst", 21, false);
      groupId = groupSay(store, "alice", "team", "standup", 22, ["bob"]);
      store.recordTransfer({
        id: 1,
        fromKey: "alice",
        name: "notes.txt",
        size: 5,
        toKey: "bob",
        startedAt: 23,
      });
    });
    const users = store.listUsers();
    const groups = store.listGroups();
    store.close();

    store = openStore(path);
    try {
      assert.deepEqual(store.listUsers(), users);
      assert.deepEqual(store.getUser("alice"), {
        name: "alice",
        nameKey: "alice",
        fingerprint: "SHA256:alice",
        createdAt: 1,
        lastSeen: 50,
        lastMessageAt: 20,
      });
      assert.deepEqual(store.listGroups(), groups);
      assert.deepEqual(store.listGroups().map((g) => g.name), ["Team", "ops"]);
      assert.deepEqual(store.members("team").map((m) => m.userName), [
        "alice",
        "bob",
      ]);
      assert.deepEqual(store.groupsOf("bob").map((g) => g.key), ["team"]);

      const carolPending = store.pendingFor("carol", 10);
      assert.deepEqual(carolPending.map((m) => m.id), [privateId]);
      assert.deepEqual(carolPending[0], {
        id: privateId,
        seq: 1,
        ts: 21,
        kind: "private",
        fromKey: "alice",
        fromName: "alice",
        toKey: "carol",
        toName: "carol",
        body: encoder.encode("psst"),
      });
      const bobPending = store.pendingFor("bob", 10);
      assert.deepEqual(bobPending.map((m) => m.id), [groupId]);
      assert.equal(bobPending[0]?.kind, "group");
      assert.deepEqual(texts(store.history({ kind: "public" }, 20)), [
        "hello all",
      ]);
      assert.equal(store.history({ kind: "public" }, 20)[0]?.id, publicId);
      assert.equal(store.recentTransfers(10)[0]?.name, "notes.txt");
      assert.deepEqual(store.integrityCheck(), []);
    } finally {
      store.close();
    }
  });
});

Deno.test("ensureUser creates a user once, keeps createdAt and takes the latest casing", () => {
  withMemoryStore((store) => {
    assert.equal(store.getUser("alice"), undefined);
    const created = store.ensureUser("alice", "alice", 100);
    assert.deepEqual(created, {
      name: "alice",
      nameKey: "alice",
      fingerprint: null,
      createdAt: 100,
      lastSeen: null,
      lastMessageAt: null,
    });
    const again = store.ensureUser("Alice", "alice", 200);
    assert.equal(again.name, "Alice");
    assert.equal(again.createdAt, 100);
    store.ensureUser("bob", "bob", 300);
    assert.deepEqual(store.listUsers().map((u) => u.name), ["Alice", "bob"]);
  });
});

Deno.test("bindFingerprint binds a name on first use and refuses another key until releaseName", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice");
    assert.equal(store.bindFingerprint("alice", "key-1"), "bound");
    assert.equal(store.bindFingerprint("alice", "key-1"), "matched");
    assert.equal(store.bindFingerprint("alice", "key-2"), "mismatch");
    assert.equal(store.getUser("alice")?.fingerprint, "key-1");

    assert.deepEqual(store.releaseName("alice", 0), { waiting: 0, groups: [] });
    assert.equal(store.getUser("alice")?.fingerprint, null);
    assert.equal(
      store.releaseName("alice", 0),
      null,
      "nothing left to release",
    );
    assert.equal(store.releaseName("nobody", 0), null);
    assert.equal(store.bindFingerprint("alice", "key-2"), "bound");
    assert.equal(store.bindFingerprint("alice", "key-1"), "mismatch");

    assert.throws(
      () => store.bindFingerprint("nobody", "key-3"),
      /User nobody is not in the store/,
    );
  });
});

Deno.test("touchSeen and touchMessage record times, and report unknown users", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice");
    assert.equal(store.touchSeen("alice", 10), true);
    assert.equal(store.touchMessage("alice", 20), true);
    assert.equal(store.touchSeen("alice", 30), true);
    const alice = store.getUser("alice");
    assert.equal(alice?.lastSeen, 30);
    assert.equal(alice?.lastMessageAt, 20);
    assert.equal(store.touchSeen("nobody", 10), false);
    assert.equal(store.touchMessage("nobody", 10), false);
  });
});

Deno.test("touchMessage inside a transaction is written once at commit, and not at all after a rollback", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    store.transaction(() => {
      assert.equal(store.touchMessage("alice", 20), true);
      assert.equal(store.touchMessage("alice", 25), true);
      assert.equal(store.touchMessage("alice", 22), true);
      assert.equal(store.touchMessage("nobody", 22), false);
    });
    assert.equal(store.getUser("alice")?.lastMessageAt, 25);
    assert.throws(() =>
      store.transaction(() => {
        store.touchMessage("bob", 30);
        throw new Error("the run failed");
      })
    );
    assert.equal(store.getUser("bob")?.lastMessageAt, null);
    // The abandoned touch does not leak into the next transaction either.
    store.transaction(() => store.touchSeen("bob", 40));
    assert.equal(store.getUser("bob")?.lastMessageAt, null);
  });
});

Deno.test("createGroup refuses a taken key and listGroups keeps creation order", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice");
    const created = store.createGroup("Zeta", "zeta", "alice", 5);
    assert.deepEqual(created, {
      name: "Zeta",
      key: "zeta",
      createdBy: "alice",
      createdAt: 5,
    });
    store.createGroup("alpha", "alpha", "alice", 6);
    assert.throws(
      () => store.createGroup("ZETA", "zeta", "alice", 7),
      /Group zeta already exists/,
    );
    assert.deepEqual(store.getGroup("zeta"), created);
    assert.equal(store.getGroup("nope"), undefined);
    assert.deepEqual(store.listGroups().map((g) => g.key), ["zeta", "alpha"]);
  });
});

Deno.test("members keeps join order and a member who rejoins counts from the rejoin", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob", "carol");
    store.createGroup("team", "team", "alice", 1);
    store.createGroup("ops", "ops", "alice", 1);
    assert.equal(store.addMember("team", "alice", "alice", 10), true);
    assert.equal(store.addMember("team", "bob", "Bob", 11), true);
    assert.equal(store.addMember("team", "carol", "carol", 12), true);
    assert.equal(store.addMember("team", "bob", "Bob", 13), false);
    assert.deepEqual(store.members("team"), [
      { userKey: "alice", userName: "alice", joinedAt: 10 },
      { userKey: "bob", userName: "Bob", joinedAt: 11 },
      { userKey: "carol", userName: "carol", joinedAt: 12 },
    ]);

    assert.equal(store.removeMember("team", "alice", 20), true);
    assert.equal(store.removeMember("team", "alice", 21), false);
    assert.equal(store.addMember("team", "alice", "alice", 30), true);
    assert.deepEqual(store.members("team").map((m) => m.userKey), [
      "bob",
      "carol",
      "alice",
    ]);
    assert.deepEqual(store.membershipPeriods("team", "alice"), [
      { joinedAt: 10, leftAt: 20 },
      { joinedAt: 30, leftAt: null },
    ]);

    store.addMember("ops", "alice", "alice", 40);
    assert.deepEqual(store.groupsOf("alice").map((g) => g.key), [
      "team",
      "ops",
    ]);
    store.removeMember("team", "alice", 50);
    assert.deepEqual(store.groupsOf("alice").map((g) => g.key), ["ops"]);
    assert.deepEqual(store.groupsOf("nobody"), []);
    assert.deepEqual(store.members("nope"), []);
  });
});

Deno.test("history of a group hides what was sent before the viewer joined", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    store.createGroup("team", "team", "alice", 1);
    store.addMember("team", "alice", "alice", 1);
    groupSay(store, "alice", "team", "before bob", 2);
    store.addMember("team", "bob", "bob", 3);
    groupSay(store, "alice", "team", "after bob joined", 4);
    groupSay(store, "bob", "team", "hi from bob", 5);

    const asBob = {
      kind: "group",
      groupKey: "team",
      viewerKey: "bob",
    } as const;
    assert.deepEqual(texts(store.history(asBob, 20)), [
      "after bob joined",
      "hi from bob",
    ]);
    assert.deepEqual(
      texts(
        store.history(
          { kind: "group", groupKey: "team", viewerKey: "alice" },
          20,
        ),
      ),
      ["before bob", "after bob joined", "hi from bob"],
    );
    const [first] = store.history(asBob, 1);
    assert.equal(first?.kind, "group");
    if (first?.kind === "group") {
      assert.equal(first.groupName, "team");
      assert.equal(first.fromName, "bob");
      assert.equal(first.ts, 5);
    }
  });
});

Deno.test("history of a group leaves out the time the viewer had left", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob", "carol");
    store.createGroup("team", "team", "alice", 1);
    store.addMember("team", "alice", "alice", 1);
    store.addMember("team", "bob", "bob", 1);
    groupSay(store, "alice", "team", "one", 2);
    store.removeMember("team", "bob", 3);
    groupSay(store, "alice", "team", "two, bob away", 4);
    store.addMember("team", "bob", "bob", 5);
    groupSay(store, "alice", "team", "three", 6);
    const view = (viewerKey: string) =>
      texts(store.history({ kind: "group", groupKey: "team", viewerKey }, 20));
    assert.deepEqual(view("bob"), ["one", "three"]);
    assert.deepEqual(view("alice"), ["one", "two, bob away", "three"]);
    assert.deepEqual(view("carol"), [], "never a member");
  });
});

Deno.test("history of private messages holds only the two users' conversation, both ways", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob", "carol");
    tell(store, "alice", "bob", "a to b", 1);
    tell(store, "bob", "alice", "b to a", 2);
    tell(store, "alice", "carol", "a to c", 3);
    tell(store, "carol", "bob", "c to b", 4);
    tell(store, "alice", "bob", "a to b again", 5);

    const between = (viewerKey: string, otherKey: string, limit = 20) =>
      store.history({ kind: "private", viewerKey, otherKey }, limit);
    assert.deepEqual(texts(between("alice", "bob")), [
      "a to b",
      "b to a",
      "a to b again",
    ]);
    assert.deepEqual(texts(between("bob", "alice")), [
      "a to b",
      "b to a",
      "a to b again",
    ]);
    assert.deepEqual(texts(between("alice", "bob", 2)), [
      "b to a",
      "a to b again",
    ]);
    assert.deepEqual(texts(between("bob", "carol")), ["c to b"]);
    const [last] = between("bob", "alice", 1);
    assert.equal(last?.kind, "private");
    if (last?.kind === "private") {
      assert.equal(last.toKey, "bob");
      assert.equal(last.toName, "bob");
    }
  });
});

Deno.test("history of the public room is the last N, oldest first", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    const ids = [1, 2, 3, 4, 5].map((n) =>
      say(store, n % 2 ? "alice" : "bob", `public ${n}`, n)
    );
    tell(store, "alice", "bob", "not public", 6);
    const last3 = store.history({ kind: "public" }, 3);
    assert.deepEqual(last3.map((m) => m.id), ids.slice(2));
    assert.deepEqual(texts(last3), ["public 3", "public 4", "public 5"]);
    assert.deepEqual(last3.map((m) => m.ts), [3, 4, 5]);
    assert.deepEqual(store.history({ kind: "public" }, 0), []);
    assert.throws(() => store.history({ kind: "public" }, -1), RangeError);
    assert.throws(() => store.history({ kind: "public" }, 1.5), RangeError);
  });
});

Deno.test("pendingFor returns undelivered messages oldest first and markDelivered takes them off", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob", "carol");
    store.createGroup("team", "team", "alice", 1);
    for (const user of ["alice", "bob", "carol"]) {
      store.addMember("team", user, user, 1);
    }
    const p1 = tell(store, "alice", "carol", "private 1", 10, false);
    tell(store, "alice", "carol", "seen at once", 11, true);
    const g1 = groupSay(store, "bob", "team", "group 1", 12, ["carol"]);
    const p2 = tell(store, "bob", "carol", "private 2", 13, false);
    say(store, "alice", "public", 14);

    assert.deepEqual(store.pendingFor("carol", 10).map((m) => m.id), [
      p1,
      g1,
      p2,
    ]);
    assert.deepEqual(texts(store.pendingFor("carol", 2)), [
      "private 1",
      "group 1",
    ]);
    assert.deepEqual(store.pendingFor("alice", 10), []);
    assert.deepEqual(store.pendingFor("bob", 10), [], "online when sent");

    store.transaction(() => {
      for (const message of store.pendingFor("carol", 2)) {
        assert.equal(store.markDelivered(message.id, "carol"), true);
      }
    });
    assert.deepEqual(store.pendingFor("carol", 10).map((m) => m.id), [p2]);
    assert.equal(store.markDelivered(p1, "carol"), false, "already delivered");
    assert.equal(store.markDelivered(p1, "bob"), false, "not a recipient");
    assert.equal(store.markDelivered(p2, "carol"), true);
    assert.deepEqual(store.pendingFor("carol", 10), []);
  });
});

Deno.test("appendMessage stores one delivery row per recipient past one INSERT's 64 rows, and a recipient listed twice once, delivered if either entry says so", () => {
  withMemoryStore((store) => {
    const members = Array.from({ length: 70 }, (_, i) => `m${i}`);
    addUsers(store, "alice", ...members);
    store.createGroup("crowd", "crowd", "alice", 1);
    for (const user of ["alice", ...members]) {
      store.addMember("crowd", user, user, 1);
    }
    // Odd members have it; m0 is listed first as waiting, then (in the
    // next INSERT's rows) as having it; m1 the other way round; m2 twice
    // waiting; m68 waiting, then having it, in one INSERT.
    const recipients = members.map((userKey, i) => ({
      userKey,
      delivered: i % 2 === 1,
    }));
    recipients.push(
      { userKey: "m0", delivered: true },
      { userKey: "m1", delivered: false },
      { userKey: "m2", delivered: false },
      // Twice in the same INSERT (rows 65-73 go in the second).
      { userKey: "m68", delivered: true },
    );
    const { id } = store.appendMessage({
      ts: 5,
      kind: "group",
      groupKey: "crowd",
      fromKey: "alice",
      fromName: "alice",
      body: encoder.encode("to everyone"),
      recipients,
    });
    members.forEach((member, i) => {
      const waiting = i % 2 === 0 && i !== 0 && i !== 68;
      assert.deepEqual(
        store.pendingFor(member, 10).map((m) => m.id),
        waiting ? [id] : [],
        member,
      );
    });
    // Each member got it (as history) whether waiting or not: a row each.
    for (const member of members) {
      assert.deepEqual(
        store.history(
          { kind: "group", groupKey: "crowd", viewerKey: member },
          10,
        )
          .map((m) => m.id),
        [id],
        member,
      );
    }
  });
});

Deno.test("appendMessage whose delivery rows fail in their second INSERT leaves none of its rows, alone or inside a transaction that goes on", () => {
  withMemoryStore((store) => {
    const members = Array.from({ length: 70 }, (_, i) => `m${i}`);
    addUsers(store, "alice", ...members);
    store.createGroup("crowd", "crowd", "alice", 1);
    for (const user of ["alice", ...members]) {
      store.addMember("crowd", user, user, 1);
    }
    // Rows 1-64 go in the first INSERT and are written; row 67 names no
    // user (a foreign key), so the second INSERT fails.
    const recipients = members.map((userKey) => ({
      userKey,
      delivered: false,
    }));
    recipients.splice(66, 0, { userKey: "nobody", delivered: false });
    const message = (ts: number) => ({
      ts,
      kind: "group" as const,
      groupKey: "crowd",
      fromKey: "alice",
      fromName: "alice",
      body: encoder.encode("to everyone"),
      recipients,
    });
    const before = store.lastMessageId();
    assert.throws(() => store.appendMessage(message(5)));
    // Inside a transaction: the message's savepoint is undone, not the
    // transaction, which commits what came before it.
    const kept = store.transaction(() => {
      const id = say(store, "alice", "before it", 6);
      assert.throws(() => store.appendMessage(message(7)));
      return id;
    });
    for (const member of members) {
      assert.deepEqual(store.pendingFor(member, 10), [], member);
      assert.deepEqual(
        store.history(
          { kind: "group", groupKey: "crowd", viewerKey: member },
          10,
        ),
        [],
        member,
      );
    }
    assert.ok(kept > before);
    // And the next one is stored whole.
    recipients.splice(66, 1);
    const { id } = store.appendMessage(message(8));
    assert.deepEqual(store.pendingFor("m0", 10).map((m) => m.id), [id]);
    assert.deepEqual(store.pendingFor("m69", 10).map((m) => m.id), [id]);
  });
});

Deno.test("appendMessage keeps the body as opaque bytes and ids only grow", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice");
    const frame = new Uint8Array([0xff, 0, 1, 0x80, 0, 0xfe, 7]);
    const body = frame.subarray(1, 6);
    const first = store.appendMessage({
      ts: 1,
      kind: "public",
      fromKey: "alice",
      fromName: "alice",
      body,
      recipients: [],
    }).id;
    const second = say(store, "alice", "next", 2);
    assert.ok(second > first);
    const [stored] = store.history({ kind: "public" }, 2);
    assert.deepEqual(stored?.body, new Uint8Array([0, 1, 0x80, 0, 0xfe]));
  });
});

Deno.test("appendMessage stores nothing when a recipient is unknown", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice");
    assert.throws(
      () => tell(store, "alice", "ghost", "boo", 1, false),
      /FOREIGN KEY constraint failed/,
    );
    assert.throws(
      () =>
        store.appendMessage({
          ts: 1,
          kind: "public",
          fromKey: "alice",
          fromName: "alice",
          body: encoder.encode("hi"),
          recipients: [{ userKey: "ghost", delivered: false }],
        }),
      /FOREIGN KEY constraint failed/,
    );
    assert.deepEqual(store.history({ kind: "public" }, 10), []);
  });
});

Deno.test("transaction commits on return, rolls back on throw, and an inner failure undoes only its own writes", () => {
  withMemoryStore((store) => {
    assert.equal(
      store.transaction(() => {
        addUsers(store, "alice");
        return 42;
      }),
      42,
    );
    assert.throws(
      () =>
        store.transaction(() => {
          addUsers(store, "bob");
          throw new Error("Handler failed");
        }),
      /Handler failed/,
    );
    assert.equal(store.getUser("bob"), undefined);

    store.transaction(() => {
      addUsers(store, "carol");
      assert.throws(() =>
        store.transaction(() => {
          addUsers(store, "dave");
          throw new Error("Inner failed");
        })
      );
      addUsers(store, "erin");
    });
    assert.deepEqual(store.listUsers().map((u) => u.name), [
      "alice",
      "carol",
      "erin",
    ]);

    assert.throws(
      () =>
        store.transaction(() => {
          addUsers(store, "frank");
          return Promise.resolve();
        }),
      /synchronous function/,
    );
    assert.equal(store.getUser("frank"), undefined);
  });
});

function shout(store: SqliteStore, from: string, text: string, ts: number) {
  store.appendPublic({
    ts,
    fromKey: from,
    fromName: from,
    body: encoder.encode(text),
  });
}

/** Every stored message, oldest first, as "kind:text". */
function everything(store: SqliteStore): string[] {
  const db = new DatabaseSync(store.path, { readOnly: true });
  try {
    return db.prepare("SELECT kind, body FROM messages ORDER BY id").all()
      .map((row) => `${row.kind}:${decoder.decode(row.body as Uint8Array)}`);
  } finally {
    db.close();
  }
}

Deno.test("appendPublic keeps call order with every other write, and reads inside the transaction see it", async () => {
  await withFileStore((store) => {
    addUsers(store, "alice", "bob");
    shout(store, "alice", "outside", 1);
    store.transaction(() => {
      shout(store, "alice", "p1", 2);
      shout(store, "bob", "p2", 3);
      // A private message in between: its own statement (and savepoint).
      tell(store, "alice", "bob", "d1", 4);
      shout(store, "alice", "p3", 5);
      // A read in the same transaction sees what was appended before it.
      assert.deepEqual(texts(store.history({ kind: "public" }, 10)), [
        "outside",
        "p1",
        "p2",
        "p3",
      ]);
      shout(store, "bob", "p4", 6);
    });
    assert.deepEqual(everything(store), [
      "public:outside",
      "public:p1",
      "public:p2",
      "private:d1",
      "public:p3",
      "public:p4",
    ]);
    const stored = store.history({ kind: "public" }, 10);
    assert.deepEqual(stored.map((m) => [m.fromName, m.ts]), [
      ["alice", 1],
      ["alice", 2],
      ["bob", 3],
      ["alice", 5],
      ["bob", 6],
    ]);
  });
});

Deno.test("appendPublic's rows go with their transaction: an inner failure drops only its own, an outer one all", async () => {
  await withFileStore((store) => {
    addUsers(store, "alice");
    store.transaction(() => {
      shout(store, "alice", "kept 1", 1);
      assert.throws(() =>
        store.transaction(() => {
          shout(store, "alice", "undone", 2);
          throw new Error("Inner failed");
        })
      );
      shout(store, "alice", "kept 2", 3);
    });
    assert.throws(
      () =>
        store.transaction(() => {
          shout(store, "alice", "rolled back", 4);
          throw new Error("Outer failed");
        }),
      /Outer failed/,
    );
    // Nothing of the failed transaction is left pending for the next one.
    store.transaction(() => shout(store, "alice", "later", 5));
    assert.deepEqual(everything(store), [
      "public:kept 1",
      "public:kept 2",
      "public:later",
    ]);
  });
});

Deno.test("a transaction whose held public rows failed to be written cannot commit, even if the error was caught", async () => {
  await withFileStore((store) => {
    addUsers(store, "alice");
    const append = (i: number, body: Uint8Array | null) =>
      store.appendPublic({
        ts: i,
        fromKey: "alice",
        fromName: "alice",
        body: body as Uint8Array,
      });
    assert.throws(
      () =>
        store.transaction(() => {
          // 64 good rows go in one statement, then a NOT NULL violation
          // in the next: a partial write.
          for (let i = 0; i < 70; i++) {
            append(i, i === 66 ? null : encoder.encode(`m${i}`));
          }
          // The read writes the held rows first, and fails; the caller
          // carries on as if nothing happened.
          assert.throws(() => store.history({ kind: "public" }, 1));
          shout(store, "alice", "after", 100);
        }),
      /NOT NULL/,
    );
    assert.deepEqual(everything(store), []);
    // A failure inside a savepoint is undone with it: the outer commits.
    store.transaction(() => {
      shout(store, "alice", "before", 1);
      assert.throws(() =>
        store.transaction(() => {
          for (let i = 0; i < 70; i++) {
            append(i, i === 66 ? null : encoder.encode(`n${i}`));
          }
          store.history({ kind: "public" }, 1);
        })
      );
      shout(store, "alice", "after", 2);
    });
    assert.deepEqual(everything(store), ["public:before", "public:after"]);
  });
});

Deno.test("appendPublic writes any number of rows in one transaction, in order and intact", async () => {
  await withFileStore((store) => {
    addUsers(store, "alice");
    // 64 + 16 + 4 + 1 rows in a statement, more than are held at once:
    // every statement size and the early write are used.
    const count = 64 * 5 + 16 + 4 * 3 + 1;
    store.transaction(() => {
      for (let i = 0; i < count; i++) shout(store, "alice", `m${i}`, i);
    });
    const stored = everything(store);
    assert.equal(stored.length, count);
    assert.deepEqual(
      stored,
      Array.from({ length: count }, (_, i) => `public:m${i}`),
    );
    assert.deepEqual(
      store.history({ kind: "public" }, count).map((m) => m.ts),
      Array.from({ length: count }, (_, i) => i),
    );
  });
});

Deno.test("transaction makes writes visible to another connection only once it returns", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const writer = openStore(path);
    const reader = openStore(path);
    try {
      writer.transaction(() => {
        addUsers(writer, "alice");
        assert.equal(reader.getUser("alice"), undefined);
      });
      assert.equal(reader.getUser("alice")?.name, "alice");
    } finally {
      writer.close();
      reader.close();
    }
  });
});

Deno.test("recordTransfer, finishTransfer and interruptTransfers keep transfer records", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    store.createGroup("team", "team", "alice", 1);
    const first = store.recordTransfer({
      id: 1,
      fromKey: "alice",
      name: "a.txt",
      size: 10,
      toKey: "bob",
      startedAt: 100,
    });
    store.recordTransfer({
      id: 2,
      fromKey: "alice",
      name: "b.bin",
      size: 20,
      groupKey: "team",
      startedAt: 101,
    });
    assert.equal(
      store.finishTransfer(1, { finishedAt: 110, outcome: "complete" }),
      true,
    );
    assert.equal(
      store.finishTransfer(1, { finishedAt: 111, outcome: "complete" }),
      false,
      "already finished",
    );
    // After a restart wire ids start again: the stale record is closed.
    const reused = store.recordTransfer({
      id: 2,
      fromKey: "bob",
      name: "c.txt",
      size: 0,
      toKey: "alice",
      startedAt: 200,
    });
    store.recordTransfer({
      id: 3,
      fromKey: "bob",
      name: "d.txt",
      size: 1,
      toKey: "alice",
      startedAt: 201,
    });
    assert.equal(store.interruptTransfers(300), 2);
    assert.equal(store.interruptTransfers(301), 0);

    const records = store.recentTransfers(10);
    assert.deepEqual(records[0], {
      recordId: first,
      id: 1,
      fromKey: "alice",
      name: "a.txt",
      size: 10,
      toKey: "bob",
      groupKey: null,
      startedAt: 100,
      finishedAt: 110,
      outcome: "complete",
    });
    assert.deepEqual(
      records.map((r) => [r.id, r.name, r.finishedAt, r.outcome]),
      [
        [1, "a.txt", 110, "complete"],
        [2, "b.bin", 200, TRANSFER_INTERRUPTED],
        [2, "c.txt", 300, TRANSFER_INTERRUPTED],
        [3, "d.txt", 300, TRANSFER_INTERRUPTED],
      ],
    );
    assert.equal(records[2]?.recordId, reused);
    assert.equal(records[1]?.groupKey, "team");
    assert.deepEqual(store.recentTransfers(1).map((r) => r.name), ["d.txt"]);
  });
});

function assertStoreError(code: StoreError["code"], path: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof StoreError, `not a StoreError: ${error}`);
    assert.equal(error.code, code);
    assert.ok(error.message.includes(path), error.message);
    assert.match(error.message, /^[A-Z]/);
    assert.doesNotMatch(error.message, /\.$/);
    return true;
  };
}

Deno.test("openStore refuses a file that is not a database, naming it and leaving it alone", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/notes.txt`;
    const content = "Shopping list: eggs, milk, and a new keyboard.\n".repeat(
      200,
    );
    await Deno.writeTextFile(path, content);
    assert.throws(
      () => openStore(path),
      assertStoreError("not_a_database", path),
    );
    assert.equal(await Deno.readTextFile(path), content);
  });
});

Deno.test("openStore refuses a damaged database", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const store = openStore(path);
    addUsers(store, "alice");
    store.close();
    // Overwrite the schema table on the first page, past the file header.
    const bytes = await Deno.readFile(path);
    bytes.fill(0x5a, 100, 4000);
    await Deno.writeFile(path, bytes);
    assert.throws(() => openStore(path), assertStoreError("corrupt", path));
  });
});

Deno.test("openStore refuses a database written by a newer version of chat", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    openStore(path).close();
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => openStore(path), (error) => {
      assertStoreError("too_new", path)(error);
      assert.match(String(error), /upgrade chat/);
      return true;
    });
  });
});

Deno.test("openStore refuses another program's SQLite database and a folder", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/other.db`;
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE notes (body TEXT)");
    db.close();
    assert.throws(() => openStore(path), assertStoreError("foreign", path));
    const check = new DatabaseSync(path);
    try {
      assert.equal(
        check.prepare("PRAGMA journal_mode").get()?.journal_mode,
        "delete",
        "not switched to WAL",
      );
    } finally {
      check.close();
    }

    assert.throws(() => openStore(dir), assertStoreError("cannot_open", dir));
  });
});

Deno.test({
  name:
    "SqliteStore keeps every acknowledged message when its process is killed with SIGKILL",
  async fn() {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      const writer = new URL("./_writer.ts", import.meta.url).pathname;
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--no-lock",
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
          writer,
          path,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();

      // Reads ids as the writer acknowledges them; kills it mid-stream,
      // then keeps what was already in the pipe: acknowledged too.
      const acknowledged: number[] = [];
      const killAfter = 1500 + Math.floor(Math.random() * 1000);
      let killed = false;
      let pending = "";
      const textDecoder = new TextDecoder();
      for await (const chunk of child.stdout) {
        pending += textDecoder.decode(chunk, { stream: true });
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) acknowledged.push(Number(line));
        if (!killed && acknowledged.length >= killAfter) {
          child.kill("SIGKILL");
          killed = true;
        }
      }
      const status = await child.status;
      const errors = await stderr;
      assert.ok(killed, `the writer stopped by itself: ${errors}`);
      assert.equal(status.signal, "SIGKILL", errors);
      assert.ok(acknowledged.every(Number.isSafeInteger));

      const store = openStore(path);
      try {
        assert.deepEqual(store.integrityCheck(), []);
        const stored = new Set(
          store.history(
            { kind: "group", groupKey: "team", viewerKey: "bob" },
            acknowledged.length + 1000,
          ).map((m) => m.id),
        );
        const missing = acknowledged.filter((id) => !stored.has(id));
        assert.deepEqual(missing, [], "acknowledged messages lost");
        // Every other message was sent to bob while he was "offline".
        const pending = new Set(
          store.pendingFor("bob", stored.size + 1).map((m) => m.id),
        );
        acknowledged.forEach((id, index) => {
          assert.equal(pending.has(id), index % 2 === 1, `message ${id}`);
        });
        assert.equal(store.getUser("alice")?.name, "alice");
      } finally {
        store.close();
      }
    });
  },
});

Deno.test("durable() has nothing to wait for in memory, with NORMAL, or before any commit", async () => {
  withMemoryStore((store) => {
    addUsers(store, "sophia");
    assert.equal(store.durable(), null);
  });
  await withTempDir((dir) => {
    const normal = openStore(`${dir}/normal.db`);
    try {
      addUsers(normal, "sophia");
      assert.equal(normal.durable(), null);
    } finally {
      normal.close();
    }
    const full = openStore(`${dir}/full.db`, { synchronous: "FULL" });
    try {
      assert.equal(full.durable(), null, "opened, nothing committed yet");
    } finally {
      full.close();
    }
  });
});

Deno.test("with FULL, durable() resolves once the commits so far are synced, one sync for many commits", async () => {
  await withFileStore(async (store) => {
    addUsers(store, "sophia", "jojo");
    const first = store.durable();
    assert.ok(first instanceof Promise, "a commit waits for its sync");
    say(store, "sophia", "one", 2);
    say(store, "sophia", "two", 3);
    const second = store.durable();
    assert.ok(second instanceof Promise);
    const order: string[] = [];
    await Promise.all([
      first.then(() => order.push("first")),
      second.then(() => order.push("second")),
    ]);
    assert.deepEqual(order, ["first", "second"], "in commit order");
    assert.equal(store.durable(), null, "nothing new since the sync");
    assert.deepEqual(texts(store.history({ kind: "public" }, 10)), [
      "one",
      "two",
    ]);
  }, { synchronous: "FULL" });
});

Deno.test("with FULL, a store closed before its sync started still releases the waiters", async () => {
  await withTempDir(async (dir) => {
    const store = openStore(`${dir}/chat.db`, { synchronous: "FULL" });
    addUsers(store, "sophia");
    const waiting = store.durable();
    assert.ok(waiting instanceof Promise);
    store.close();
    await waiting;
  });
});

Deno.test("with FULL, a log that cannot be synced hands syncing back to SQLite and releases the waiters", async () => {
  await withFileStore(async (store, path) => {
    const errors: string[] = [];
    const consoleError = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      addUsers(store, "sophia");
      // The store opens its own descriptor of the log at the first sync.
      await Deno.remove(`${path}-wal`);
      const waiting = store.durable();
      assert.ok(waiting instanceof Promise);
      await waiting;
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0]!, /cannot sync .*chat\.db-wal/);
      addUsers(store, "jojo");
      assert.equal(store.durable(), null, "SQLite syncs each commit now");
    } finally {
      console.error = consoleError;
    }
  }, { synchronous: "FULL" });
});

Deno.test("requeueSince puts back what a user was sent since a time, and only that", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob", "carol");
    const before = tell(store, "alice", "bob", "before", 10, true);
    const after = tell(store, "alice", "bob", "after", 20, true);
    const forCarol = tell(store, "alice", "carol", "carol's", 20, true);
    say(store, "alice", "public", 20);
    assert.equal(store.requeueSince("bob", 20), 1);
    assert.deepEqual(store.pendingFor("bob", 10).map((m) => m.id), [after]);
    assert.deepEqual(store.pendingFor("carol", 10), []);
    assert.ok(before < after && forCarol > after);
  });
});

Deno.test("the schema lets requeueSince find recent messages through an index, not by reading the whole history", async () => {
  await withTempDir((dir) => {
    openStore(`${dir}/chat.db`).close();
    const db = new DatabaseSync(`${dir}/chat.db`);
    try {
      // The subquery requeueSince runs for every connection that drops.
      const plan = db.prepare(
        `EXPLAIN QUERY PLAN
         SELECT id FROM messages WHERE kind <> 'public' AND ts >= ?`,
      ).all(1).map((row) => String(row.detail)).join("\n");
      assert.match(plan, /USING INDEX messages_with_recipients_by_time/, plan);
    } finally {
      db.close();
    }
  });
});

Deno.test("with FULL, a database opened through a symlink syncs the log beside the real file", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/real`);
    const store0 = openStore(`${dir}/real/chat.db`);
    store0.close();
    await Deno.symlink(`${dir}/real/chat.db`, `${dir}/link.db`);
    const store = openStore(`${dir}/link.db`, { synchronous: "FULL" });
    const errors: string[] = [];
    const consoleError = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      addUsers(store, "sophia");
      await store.durable();
      addUsers(store, "jojo");
      assert.ok(store.durable() instanceof Promise, "still syncing its way");
      await store.durable();
      assert.deepEqual(errors, []);
    } finally {
      console.error = consoleError;
      store.close();
    }
  });
});

Deno.test("SqliteStore.history stops at the message whose body takes the total past maxBodyBytes, and keeps the newest", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    for (let i = 0; i < 10; i++) say(store, "alice", `${i}`.repeat(100), i);
    tell(store, "alice", "bob", "a".repeat(100), 20);
    tell(store, "bob", "alice", "b".repeat(100), 21);
    tell(store, "alice", "bob", "c".repeat(100), 22);
    // 250 bytes: two messages fit, the third breaks the budget and comes too.
    assert.deepEqual(
      texts(store.history({ kind: "public" }, 20, 250)),
      ["7", "8", "9"].map((d) => d.repeat(100)),
    );
    // Exactly at the budget is within it: the next one still comes, as the
    // sign that there are more.
    assert.equal(store.history({ kind: "public" }, 20, 200).length, 3);
    assert.equal(store.history({ kind: "public" }, 2, 200).length, 2);
    // The limit still holds, and no budget means none.
    assert.equal(store.history({ kind: "public" }, 4, 10_000).length, 4);
    assert.equal(store.history({ kind: "public" }, 20).length, 10);
    assert.deepEqual(
      texts(
        store.history(
          { kind: "private", viewerKey: "alice", otherKey: "bob" },
          20,
          150,
        ),
      ),
      ["b".repeat(100), "c".repeat(100)],
    );
  });
});

Deno.test("SqliteStore.history with before: pages back through the public room, only below the cursor", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    const ids = [1, 2, 3, 4, 5].map((n) => say(store, "alice", `p${n}`, n));
    tell(store, "alice", "bob", "not public", 6);
    const page = (before: number, limit = 2) =>
      texts(store.history({ kind: "public", before }, limit));
    assert.deepEqual(page(ids[4]!), ["p3", "p4"]);
    assert.deepEqual(page(ids[2]!), ["p1", "p2"]);
    assert.deepEqual(page(ids[0]!), []);
    // A cursor past the newest is no cursor; 0 is below every id.
    assert.deepEqual(page(Number.MAX_SAFE_INTEGER, 10), [
      "p1",
      "p2",
      "p3",
      "p4",
      "p5",
    ]);
    assert.deepEqual(page(0, 10), []);
  });
});

Deno.test("SqliteStore.history with before: the byte budget counts from the cursor, so the next page gets what the cap left out", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    for (let i = 0; i < 10; i++) say(store, "alice", `${i}`.repeat(100), i);
    // 250 bytes: 7, 8, 9 (9 broke the budget: the caller drops it).
    const first = store.history({ kind: "public" }, 20, 250);
    assert.deepEqual(texts(first), ["7", "8", "9"].map((d) => d.repeat(100)));
    // The caller showed 8 and 9; it asks below 8.
    const second = store.history(
      { kind: "public", before: first[1]!.id },
      20,
      250,
    );
    assert.deepEqual(texts(second), ["5", "6", "7"].map((d) => d.repeat(100)));
  });
});

Deno.test("SqliteStore.history with before: a group cursor never shows what the viewer was not entitled to", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob", "carol");
    store.createGroup("team", "team", "alice", 1);
    store.addMember("team", "alice", "alice", 1);
    const before = groupSay(store, "alice", "team", "before bob", 2);
    store.addMember("team", "bob", "bob", 3);
    const one = groupSay(store, "alice", "team", "one", 4);
    store.removeMember("team", "bob", 5);
    const away = groupSay(store, "alice", "team", "bob away", 6);
    store.addMember("team", "bob", "bob", 7);
    const two = groupSay(store, "alice", "team", "two", 8);
    const asBob = (cursor: number) =>
      texts(
        store.history(
          { kind: "group", groupKey: "team", viewerKey: "bob", before: cursor },
          20,
        ),
      );
    assert.deepEqual(asBob(two), ["one"]);
    assert.deepEqual(asBob(two + 1), ["one", "two"]);
    // Cursors at or next to messages bob may not see show nothing more.
    assert.deepEqual(asBob(away), ["one"]);
    assert.deepEqual(asBob(one), []);
    assert.deepEqual(asBob(before + 1), []);
    const asCarol = texts(
      store.history(
        {
          kind: "group",
          groupKey: "team",
          viewerKey: "carol",
          before: two + 1,
        },
        20,
      ),
    );
    assert.deepEqual(asCarol, [], "never a member");
  });
});

Deno.test("SqliteStore.history with before: another conversation's id is only a point in time, and bad cursors are refused", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob", "carol");
    tell(store, "alice", "bob", "a to b", 1);
    const elsewhere = tell(store, "alice", "carol", "a to c", 2);
    tell(store, "bob", "alice", "b to a", 3);
    const between = (before: number) =>
      texts(
        store.history(
          { kind: "private", viewerKey: "bob", otherKey: "alice", before },
          20,
        ),
      );
    // Below alice-to-carol's id: bob's conversation with alice before it,
    // and nothing of alice and carol's.
    assert.deepEqual(between(elsewhere), ["a to b"]);
    assert.deepEqual(between(elsewhere + 1), ["a to b"]);
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN, Infinity]) {
      assert.throws(
        () => store.history({ kind: "public", before: bad }, 1),
        RangeError,
        `${bad}`,
      );
    }
  });
});

Deno.test("appendMessage and appendPublic give ids that grow and a seq per conversation", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob", "carol");
    store.createGroup("Team", "team", "alice", 1);
    store.addMember("team", "alice", "alice", 1);
    store.addMember("team", "bob", "bob", 1);
    const positions = store.transaction(() => [
      store.appendPublic({
        ts: 2,
        fromKey: "alice",
        fromName: "alice",
        body: encoder.encode("hi"),
      }),
      store.appendMessage({
        ts: 3,
        kind: "private",
        toKey: "bob",
        fromKey: "alice",
        fromName: "alice",
        body: encoder.encode("a to b"),
        recipients: [{ userKey: "bob", delivered: false }],
      }),
      // The other direction of the same conversation: the next seq.
      store.appendMessage({
        ts: 4,
        kind: "private",
        toKey: "alice",
        fromKey: "bob",
        fromName: "bob",
        body: encoder.encode("b to a"),
        recipients: [{ userKey: "alice", delivered: false }],
      }),
      store.appendMessage({
        ts: 5,
        kind: "group",
        groupKey: "team",
        fromKey: "bob",
        fromName: "bob",
        body: encoder.encode("team"),
        recipients: [{ userKey: "alice", delivered: false }],
      }),
      store.appendPublic({
        ts: 6,
        fromKey: "carol",
        fromName: "carol",
        body: encoder.encode("again"),
      }),
      store.appendMessage({
        ts: 7,
        kind: "private",
        toKey: "carol",
        fromKey: "alice",
        fromName: "alice",
        body: encoder.encode("a to c"),
        recipients: [{ userKey: "carol", delivered: false }],
      }),
    ]);
    assert.deepEqual(positions.map((p) => p.seq), [1, 1, 2, 1, 2, 1]);
    const ids = positions.map((p) => p.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.equal(new Set(ids).size, ids.length);
    // What was handed out is what was stored.
    const stored = store.history({ kind: "public" }, 10);
    assert.deepEqual(
      stored.map((m) => [m.id, m.seq]),
      [[ids[0], 1], [ids[4], 2]],
    );
    const conversation = store.history(
      { kind: "private", viewerKey: "alice", otherKey: "bob" },
      10,
    );
    assert.deepEqual(conversation.map((m) => m.seq), [1, 2]);
  });
});

Deno.test("a rolled-back message leaves a gap, never a reused id or seq", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice");
    const say = (text: string) =>
      store.appendPublic({
        ts: 1,
        fromKey: "alice",
        fromName: "alice",
        body: encoder.encode(text),
      });
    const first = store.transaction(() => say("kept"));
    assert.throws(() =>
      store.transaction(() => {
        say("undone");
        throw new Error("no");
      }), /no/);
    const third = store.transaction(() => say("kept too"));
    assert.ok(third.id > first.id && third.seq > first.seq);
    assert.deepEqual(texts(store.history({ kind: "public" }, 10)), [
      "kept",
      "kept too",
    ]);
  });
});

Deno.test("ids and seqs continue where they were after the store is reopened", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    let store = openStore(path);
    addUsers(store, "alice", "bob");
    const before = tell(store, "alice", "bob", "one", 1, false);
    store.close();
    store = openStore(path);
    try {
      const after = store.appendMessage({
        ts: 2,
        kind: "private",
        toKey: "alice",
        fromKey: "bob",
        fromName: "bob",
        body: encoder.encode("two"),
        recipients: [{ userKey: "alice", delivered: false }],
      });
      assert.ok(after.id > before);
      assert.equal(after.seq, 2);
    } finally {
      store.close();
    }
  });
});

Deno.test("acknowledge marks a user's waiting messages of one conversation up to a seq, and nothing else", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob", "carol");
    store.createGroup("Team", "team", "alice", 1);
    for (const user of ["alice", "bob", "carol"]) {
      store.addMember("team", user, user, 1);
    }
    const fromAlice = [1, 2, 3].map((i) =>
      tell(store, "alice", "carol", `a${i}`, i, false)
    );
    const fromBob = tell(store, "bob", "carol", "b1", 4, false);
    const inTeam = [5, 6].map((i) =>
      groupSay(store, "alice", "team", `t${i}`, i, ["bob", "carol"])
    );
    // Up to seq 2 with alice: her first two.
    assert.equal(
      store.acknowledge("carol", { kind: "private", otherKey: "alice" }, 2),
      2,
    );
    assert.deepEqual(store.pendingFor("carol", 10).map((m) => m.id), [
      fromAlice[2],
      fromBob,
      ...inTeam,
    ]);
    // The group's first message, for carol only.
    assert.equal(
      store.acknowledge("carol", { kind: "group", groupKey: "team" }, 1),
      1,
    );
    assert.deepEqual(store.pendingFor("bob", 10).map((m) => m.id), inTeam);
    // Again, or for a conversation with nothing waiting: nothing changes.
    assert.equal(
      store.acknowledge("carol", { kind: "group", groupKey: "team" }, 1),
      0,
    );
    assert.equal(
      store.acknowledge("carol", { kind: "private", otherKey: "nobody" }, 99),
      0,
    );
    assert.deepEqual(store.pendingFor("carol", 10).map((m) => m.id), [
      fromAlice[2],
      fromBob,
      inTeam[1],
    ]);
  });
});

Deno.test("pendingFor pages on after an id without marking anything", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    const ids = [1, 2, 3, 4, 5].map((i) =>
      tell(store, "alice", "bob", `m${i}`, i, false)
    );
    const first = store.pendingFor("bob", 2);
    assert.deepEqual(first.map((m) => m.id), ids.slice(0, 2));
    const next = store.pendingFor("bob", 2, first.at(-1)!.id);
    assert.deepEqual(next.map((m) => m.id), ids.slice(2, 4));
    assert.deepEqual(store.pendingFor("bob", 10).map((m) => m.id), ids);
  });
});

Deno.test("sentWithClientId finds the position stored with a sender's client id, across a reopen, in and out of transactions", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    let store = openStore(path);
    addUsers(store, "ann", "bob");
    const cid = "0123456789abcdef0123456789abcdef";
    const publicOne = store.transaction(() =>
      store.appendPublic({
        ts: 1,
        fromKey: "ann",
        fromName: "ann",
        body: encoder.encode("hi"),
        clientId: cid,
      })
    );
    const privateOne = store.appendMessage({
      ts: 2,
      kind: "private",
      toKey: "bob",
      fromKey: "bob",
      fromName: "bob",
      body: encoder.encode("to myself"),
      clientId: cid,
      recipients: [],
    });
    assert.deepEqual(store.sentWithClientId("ann", cid), publicOne);
    // The same cid from another sender is another message.
    assert.deepEqual(store.sentWithClientId("bob", cid), privateOne);
    assert.equal(store.sentWithClientId("ann", "0".repeat(32)), undefined);
    // A transaction that rolls back keeps no client id.
    assert.throws(() =>
      store.transaction(() => {
        store.appendPublic({
          ts: 3,
          fromKey: "ann",
          fromName: "ann",
          body: encoder.encode("undone"),
          clientId: "1".repeat(32),
        });
        throw new Error("undo");
      })
    );
    assert.equal(store.sentWithClientId("ann", "1".repeat(32)), undefined);
    store.close();
    store = openStore(path);
    assert.deepEqual(store.sentWithClientId("ann", cid), publicOne);
    store.close();
  });
});

Deno.test("client ids recorded in a transaction are found before its commit, kept by it, and dropped with what a savepoint undoes", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    let store = openStore(path);
    addUsers(store, "ann", "bob");
    const say = (from: string, cid: string, text: string) =>
      store.appendPublic({
        ts: 1,
        fromKey: from,
        fromName: from,
        body: encoder.encode(text),
        clientId: cid,
      });
    const cids = Array.from(
      { length: 70 },
      (_, i) => i.toString(16).padStart(32, "0"),
    );
    const positions = store.transaction(() => {
      // More than one multi-row INSERT's worth, from two senders in turn.
      const out = cids.map((cid, i) =>
        say(i % 2 ? "bob" : "ann", cid, `m${i}`)
      );
      // A retry in the same turn is known before anything is written.
      assert.deepEqual(store.sentWithClientId("ann", cids[0]!), out[0]);
      assert.deepEqual(store.sentWithClientId("bob", cids[1]!), out[1]);
      assert.equal(store.sentWithClientId("bob", cids[0]!), undefined);
      // The same pair again: the first position stays.
      say("ann", cids[0]!, "again");
      assert.deepEqual(store.sentWithClientId("ann", cids[0]!), out[0]);
      // A savepoint undone takes its own client ids and leaves the others.
      assert.throws(() =>
        store.transaction(() => {
          say("ann", "f".repeat(32), "undone");
          assert.ok(store.sentWithClientId("ann", "f".repeat(32)));
          throw new Error("undo");
        })
      );
      assert.equal(store.sentWithClientId("ann", "f".repeat(32)), undefined);
      assert.deepEqual(store.sentWithClientId("bob", cids[69]!), out[69]);
      return out;
    });
    store.close();
    store = openStore(path);
    cids.forEach((cid, i) =>
      assert.deepEqual(
        store.sentWithClientId(i % 2 ? "bob" : "ann", cid),
        positions[i],
        `message ${i}`,
      )
    );
    assert.equal(store.sentWithClientId("ann", "f".repeat(32)), undefined);
    store.close();
  });
});

Deno.test("the store keeps the newest client ids, in memory and in its table, and a reopen finds the same ones", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const kept = 50;
    let store = openStore(path, { clientIdsKept: kept });
    addUsers(store, "ann");
    const cid = (i: number) => i.toString(16).padStart(32, "0");
    const positions: MessagePosition[] = [];
    // Past 1,024, when the table is trimmed, in turns of 100 and alone.
    for (let i = 0; i < 1100; i++) {
      const say = () =>
        store.appendPublic({
          ts: i,
          fromKey: "ann",
          fromName: "ann",
          body: encoder.encode(`m${i}`),
          clientId: cid(i),
        });
      positions.push(i % 2 ? store.transaction(say) : say());
    }
    const known = (s: SqliteStore) =>
      positions.flatMap((position, i) => {
        const found = s.sentWithClientId("ann", cid(i));
        if (found !== undefined) assert.deepEqual(found, position);
        return found === undefined ? [] : [i];
      });
    const newest = Array.from({ length: kept }, (_, i) => 1100 - kept + i);
    assert.deepEqual(known(store), newest);
    store.close();
    const db = new DatabaseSync(path);
    try {
      const rows = Number(
        db.prepare("SELECT count(*) AS n FROM sent_ids").get()?.n,
      );
      // What memory kept, and the one it forgot when the last transaction
      // committed: deleted at the next client id recorded.
      assert.ok(rows >= kept && rows <= kept + 1, `${rows} rows`);
    } finally {
      db.close();
    }
    store = openStore(path, { clientIdsKept: kept });
    assert.deepEqual(known(store), newest);
    store.close();
  });
});

Deno.test("the store forgets a flooding sender's client ids, not a quiet one's, and a reopen keeps the same ones", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const kept = 200;
    let store = openStore(path, { clientIdsKept: kept });
    addUsers(store, "ann", "bob");
    const cid = (i: number) => i.toString(16).padStart(32, "0");
    const say = (from: string, i: number) =>
      store.appendPublic({
        ts: i,
        fromKey: from,
        fromName: from,
        body: encoder.encode(`m${i}`),
        clientId: cid(i),
      });
    const bob: [number, MessagePosition][] = [];
    for (let i = 0; i < 30; i++) bob.push([i, say("bob", i)]);
    // Ann floods ten times past the bound, alone and in turns of 10.
    const ann: [number, MessagePosition][] = [];
    for (let i = 1000; i < 3000; i += 10) {
      const turn = () =>
        Array.from({ length: 10 }, (_, k) => [i + k, say("ann", i + k)]);
      ann.push(
        ...(i % 20 ? store.transaction(turn) : turn()) as [
          number,
          MessagePosition,
        ][],
      );
    }
    // A delete undone with its transaction is done again later.
    assert.throws(() =>
      store.transaction(() => {
        say("ann", 3000);
        throw new Error("undone");
      })
    );
    ann.push([3001, say("ann", 3001)]);
    const known = (s: SqliteStore, from: string, sent: typeof bob) =>
      sent.flatMap(([i, position]) => {
        const found = s.sentWithClientId(from, cid(i));
        if (found !== undefined) assert.deepEqual(found, position);
        return found === undefined ? [] : [i];
      });
    const bobKept = bob.map(([i]) => i);
    assert.deepEqual(known(store, "bob", bob), bobKept);
    const annKept = known(store, "ann", ann);
    assert.ok(annKept.length >= kept - 30 - 4, `ann keeps ${annKept.length}`);
    assert.deepEqual(annKept, ann.slice(-annKept.length).map(([i]) => i));
    store.close();
    const db = new DatabaseSync(path);
    try {
      const rows = Number(
        db.prepare("SELECT count(*) AS n FROM sent_ids").get()?.n,
      );
      assert.ok(rows <= kept, `${rows} rows`);
    } finally {
      db.close();
    }
    store = openStore(path, { clientIdsKept: kept });
    assert.deepEqual(known(store, "bob", bob), bobKept);
    assert.deepEqual(known(store, "ann", ann), annKept);
    store.close();
  });
});

Deno.test("a database from before migration 9 keeps recognising the client ids it stored, without their index", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const store = openStore(path);
    addUsers(store, "ann");
    const cid = "0123456789abcdef0123456789abcdef";
    const position = store.appendPublic({
      ts: 1,
      fromKey: "ann",
      fromName: "ann",
      body: encoder.encode("hi"),
      clientId: cid,
    });
    store.close();
    // As version 8 left it: the index, no later table, and user_version 8.
    const db = new DatabaseSync(path);
    db.exec(`
      CREATE UNIQUE INDEX sent_ids_by_sender ON sent_ids (from_key, client_id);
      DROP TABLE dropped_deliveries;
      DROP TABLE conversation_seqs;
      ALTER TABLE users DROP COLUMN released_below;
      DROP TABLE budget_spends;
      ALTER TABLE users DROP COLUMN registered_from;
      PRAGMA user_version = 8;
    `);
    db.close();
    const reopened = openStore(path);
    try {
      assert.deepEqual(reopened.sentWithClientId("ann", cid), position);
    } finally {
      reopened.close();
    }
    const after = new DatabaseSync(path);
    try {
      assert.equal(
        after.prepare(
          "SELECT count(*) AS n FROM sqlite_schema WHERE name = 'sent_ids_by_sender'",
        ).get()?.n,
        0,
      );
      assert.equal(
        after.prepare("PRAGMA user_version").get()?.user_version,
        SCHEMA_VERSION,
      );
    } finally {
      after.close();
    }
  });
});

Deno.test("SqliteStore.appendMessage and appendPublic store a message at a position given by a shared log, which must be past the last id", () => {
  const store = openStore(":memory:");
  try {
    assert.equal(store.lastMessageId(), 0);
    store.ensureUser("ann", "ann", 1);
    store.ensureUser("bo", "bo", 1);
    const body = new TextEncoder().encode("x");
    const common = { ts: 2, fromKey: "ann", fromName: "ann", body };
    assert.deepEqual(
      store.appendPublic({ ...common, at: { id: 7, seq: 7 } }),
      { id: 7, seq: 7 },
    );
    assert.deepEqual(
      store.appendMessage({
        ...common,
        kind: "private",
        toKey: "bo",
        clientId: "00112233445566778899aabbccddeeff",
        recipients: [{ userKey: "bo", delivered: false }],
        at: { id: 9, seq: 9 },
      }),
      { id: 9, seq: 9 },
    );
    assert.equal(store.lastMessageId(), 9);
    // A retry is known by its client id, at the log's position.
    assert.deepEqual(
      store.sentWithClientId("ann", "00112233445566778899aabbccddeeff"),
      { id: 9, seq: 9 },
    );
    assert.deepEqual(store.pendingFor("bo", 10).map((m) => [m.id, m.seq]), [
      [9, 9],
    ]);
    assert.deepEqual(
      store.history({ kind: "public" }, 10).map((m) => [m.id, m.seq]),
      [[7, 7]],
    );
    // Ids only grow: a position at or before the last is refused.
    assert.throws(
      () => store.appendPublic({ ...common, at: { id: 9, seq: 10 } }),
      RangeError,
    );
    // Without one, the store goes on from the last.
    assert.deepEqual(store.appendPublic(common), { id: 10, seq: 8 });
  } finally {
    store.close();
  }
});

Deno.test("id stays the same across a reopen and differs between two databases", async () => {
  await withTempDir((dir) => {
    const one = openStore(`${dir}/one.db`);
    const id = one.id;
    one.close();
    assert.match(id, /^[0-9a-f]{32}$/);
    const again = openStore(`${dir}/one.db`);
    const two = openStore(`${dir}/two.db`);
    try {
      assert.equal(again.id, id);
      assert.notEqual(two.id, id);
    } finally {
      again.close();
      two.close();
    }
  });
});

/** Bytes of the database file and of its write-ahead log. */
function fileSizes(path: string): { db: number; wal: number } {
  return {
    db: Deno.statSync(path).size,
    wal: Deno.statSync(`${path}-wal`).size,
  };
}

/** Public messages of about a page each, one transaction per message. */
const PAGE_BODY = "x".repeat(4000);

function reopenedHolds(path: string, messages: number): void {
  const store = openStore(path);
  try {
    const newest = store.history({ kind: "public" }, 1);
    assert.equal(
      decoder.decode(newest[0]?.body),
      `${messages - 1} ${PAGE_BODY}`,
    );
    assert.equal(everything(store).length, messages);
  } finally {
    store.close();
  }
}

Deno.test("SqliteStore's commits never checkpoint the write-ahead log themselves; closing does, and keeps everything", async () => {
  // SQLite's automatic checkpoint would copy the log into the database file
  // inside the COMMIT that takes it past 1000 pages, on the server's one
  // thread (issue 21 item 4). With the worker's checkpoints turned off too,
  // nothing may reach the database file until the store closes.
  const messages = 1500;
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const store = openStore(path, { checkpointEveryRows: Infinity });
    try {
      addUsers(store, "Ann");
      const before = fileSizes(path).db;
      for (let i = 0; i < messages; i++) {
        store.transaction(() =>
          shout(store, "ann", `${i} ${PAGE_BODY}`, i + 2)
        );
      }
      const { db, wal } = fileSizes(path);
      assert.equal(db, before, "nothing was copied into the database file");
      assert.ok(
        wal > 2 * 1000 * 4096,
        `the log went on past 1000 pages: ${wal} bytes`,
      );
      assert.deepEqual(store.checkpoints, { byWorker: 0, byWriter: 0 });
    } finally {
      store.close();
    }
    assert.ok(
      Deno.statSync(path).size > messages * PAGE_BODY.length,
      "closing copied the log into the database file",
    );
    assert.throws(() => Deno.statSync(`${path}-wal`), Deno.errors.NotFound);
    reopenedHolds(path, messages);
  });
});

Deno.test("SqliteStore has a worker checkpoint the write-ahead log: the log starts again, stays bounded, and everything reads back", async () => {
  // The server writes in bursts with its event loop turning in between;
  // here each burst of about 800 pages of log ends with a checkpoint by the
  // worker, and the next commit starts the log again from its beginning.
  const messages = 3000;
  const written = messages * PAGE_BODY.length;
  await withTempDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const store = openStore(path);
    try {
      addUsers(store, "Ann");
      const before = fileSizes(path).db;
      for (let i = 0; i < messages; i++) {
        store.transaction(() =>
          shout(store, "ann", `${i} ${PAGE_BODY}`, i + 2)
        );
        if (i % 200 === 199) assert.equal(await store.checkpoint(), true);
      }
      const { db, wal } = fileSizes(path);
      assert.ok(store.checkpoints.byWorker >= messages / 200);
      assert.equal(store.checkpoints.byWriter, 0);
      assert.ok(
        wal < written / 2,
        `the log holds ${wal} bytes after ${written} written`,
      );
      assert.ok(
        db - before > written * 0.9,
        `the database file grew by ${db - before} bytes, ${written} written`,
      );
    } finally {
      store.close();
    }
    reopenedHolds(path, messages);
  });
});

Deno.test("SqliteStore starts its checkpoint worker when asked, before any checkpoint; closing stops it", async () => {
  // A server starts it before taking connections: starting one holds the
  // thread 20-30 ms, which the first checkpoint would add to a commit.
  await withTempDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const store = openStore(path);
    try {
      assert.equal(store.checkpointerRunning, false, "not before it is needed");
      store.startCheckpointer();
      assert.equal(store.checkpointerRunning, true);
      store.startCheckpointer();
      addUsers(store, "Ann");
      store.transaction(() => shout(store, "ann", `0 ${PAGE_BODY}`, 2));
      assert.equal(await store.checkpoint(), true);
      assert.equal(store.checkpoints.byWorker, 1);
    } finally {
      store.close();
    }
    assert.equal(store.checkpointerRunning, false);
    reopenedHolds(path, 1);
  });
  const memory = openStore(":memory:");
  try {
    memory.startCheckpointer();
    assert.equal(memory.checkpointerRunning, false, "no log, no worker");
  } finally {
    memory.close();
  }
});

Deno.test("SqliteStore in memory has no log to checkpoint", async () => {
  const store = openStore(":memory:");
  try {
    addUsers(store, "Ann");
    assert.equal(await store.checkpoint(), false);
    assert.deepEqual(store.checkpoints, { byWorker: 0, byWriter: 0 });
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore checkpoints the write-ahead log itself when a writer never lets the worker's answers in", async () => {
  // A loop of commits that never yields reads no answer from the worker;
  // past a few times checkpointEveryRows the writer checkpoints, and the
  // log starts again, as with SQLite's own checkpoints.
  const messages = 3000;
  const written = messages * PAGE_BODY.length;
  await withTempDir((dir) => {
    const path = `${dir}/chat.db`;
    const store = openStore(path, { checkpointEveryRows: 32 });
    try {
      addUsers(store, "Ann");
      for (let i = 0; i < messages; i++) {
        store.transaction(() =>
          shout(store, "ann", `${i} ${PAGE_BODY}`, i + 2)
        );
      }
      const { wal } = fileSizes(path);
      assert.ok(store.checkpoints.byWriter > 0, "the writer checkpointed");
      assert.ok(
        wal < written / 2,
        `the log holds ${wal} bytes after ${written} written`,
      );
    } finally {
      store.close();
    }
    reopenedHolds(path, messages);
  });
});

Deno.test("only the newest transfer records are kept, and outcomes are cut", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    // One still in flight, older than all the others: it stays.
    store.recordTransfer({
      id: 1,
      fromKey: "alice",
      name: "open.txt",
      size: 1,
      toKey: "bob",
      startedAt: 1,
    });
    for (let i = 0; i < TRANSFERS_KEPT + 10; i++) {
      store.recordTransfer({
        id: 2 + i,
        fromKey: "alice",
        name: `${i}.txt`,
        size: 1,
        toKey: "bob",
        startedAt: 2 + i,
      });
      store.finishTransfer(2 + i, {
        finishedAt: 3 + i,
        // An odd prefix: the cut falls inside a surrogate pair.
        outcome: "bo: " + "\u{1F600}".repeat(MAX_OUTCOME_CHARS),
      });
    }
    const records = store.recentTransfers(10 * TRANSFERS_KEPT);
    assert.equal(records.length, TRANSFERS_KEPT + 1);
    assert.equal(records[0]!.name, "open.txt");
    assert.equal(records[0]!.finishedAt, null);
    assert.equal(records[1]!.name, "10.txt");
    const outcome = records.at(-1)!.outcome!;
    assert.ok(outcome.length <= MAX_OUTCOME_CHARS);
    assert.ok(outcome.isWellFormed());
    assert.ok(outcome.endsWith("\u{1F600}\u2026"));
  });
});

Deno.test("only the newest periods of membership are kept per user and group", () => {
  withMemoryStore((store) => {
    addUsers(store, "alice", "bob");
    store.createGroup("team", "team", "alice", 1);
    store.addMember("team", "bob", "bob", 1);
    for (let at = 10; at < 10 + 2 * (MEMBERSHIP_PERIODS_KEPT + 5); at += 2) {
      store.addMember("team", "alice", "alice", at);
      store.removeMember("team", "alice", at + 1);
    }
    store.addMember("team", "alice", "alice", 500);
    const periods = store.membershipPeriods("team", "alice");
    // The newest periods that ended, and the current one.
    assert.equal(periods.length, MEMBERSHIP_PERIODS_KEPT + 1);
    assert.deepEqual(periods.at(-1), { joinedAt: 500, leftAt: null });
    assert.deepEqual(periods.at(-2), {
      joinedAt: 8 + 2 * (MEMBERSHIP_PERIODS_KEPT + 5),
      leftAt: 9 + 2 * (MEMBERSHIP_PERIODS_KEPT + 5),
    });
    // Others' periods are theirs.
    assert.deepEqual(store.membershipPeriods("team", "bob"), [
      { joinedAt: 1, leftAt: null },
    ]);
    assert.deepEqual(store.members("team").map((m) => m.userKey), [
      "bob",
      "alice",
    ]);
  });
});

Deno.test("cutOldKeys cuts a name a cluster's names bucket rebound at the position it gives: the earlier key's messages, waiting deliveries, prekeys, binding and memberships go, what came for the new key after stays, and a second cut does nothing", () => {
  const store = openStore(":memory:", { maxBytes: 1024 * 1024 });
  try {
    addUsers(store, "alice", "bob");
    store.bindFingerprint("alice", "key-1");
    store.putPrekeys("alice", {
      name: "alice",
      fingerprint: "key-1",
      bundle: "{}",
    });
    store.createGroup("lab", "lab", "bob", 1);
    store.addMember("lab", "bob", "bob", 1);
    store.addMember("lab", "alice", "alice", 1);
    tell(store, "bob", "alice", "read by the old key", 2);
    tell(store, "bob", "alice", "waiting for the old key", 3, false);
    groupSay(store, "bob", "lab", "group line waiting", 4, ["alice"]);
    const after = store.lastMessageId();
    // The new key took the name over at 10, on another node; this one has
    // since stored what came for it and its join of another group.
    store.createGroup("den", "den", "bob", 11);
    store.addMember("den", "alice", "alice", 12);
    tell(store, "bob", "alice", "for the new key", 13, false);
    const cut = { fingerprint: "key-2", after, since: 10 };

    assert.deepEqual(store.cutOldKeys("alice", cut, 20, true), {
      waiting: 2,
      groups: ["lab"],
    });
    assert.equal(store.getUser("alice")?.fingerprint, null);
    assert.equal(store.getPrekeys("alice"), undefined);
    assert.deepEqual(texts(store.pendingFor("alice", 10)), [
      "for the new key",
    ]);
    assert.deepEqual(store.groupsOf("alice").map((group) => group.name), [
      "den",
    ]);
    assert.deepEqual(
      texts(
        store.history(
          { kind: "private", viewerKey: "alice", otherKey: "bob" },
          10,
        ),
      ),
      ["for the new key"],
    );
    assert.deepEqual(
      store.history({ kind: "group", groupKey: "lab", viewerKey: "alice" }, 10),
      [],
    );
    // Bob's side stays whole.
    assert.equal(
      store.history(
        { kind: "private", viewerKey: "bob", otherKey: "alice" },
        10,
      ).length,
      3,
    );

    // Bound to the new key here, the cut is made: again, nothing goes.
    assert.equal(store.bindFingerprint("alice", "key-2"), "bound");
    assert.equal(store.cutOldKeys("alice", cut, 30, true), null);
    assert.deepEqual(texts(store.pendingFor("alice", 10)), [
      "for the new key",
    ]);
    assert.equal(store.cutOldKeys("nobody", cut, 30, true), null);
  } finally {
    store.close();
  }
});

Deno.test("cutOldKeys without groups leaves every membership to the groups bucket, and with them, on a name already followed, ends only the old key's", () => {
  const store = openStore(":memory:", { maxBytes: 1024 * 1024 });
  try {
    addUsers(store, "alice", "bob");
    store.bindFingerprint("alice", "key-1");
    store.createGroup("lab", "lab", "bob", 1);
    store.addMember("lab", "bob", "bob", 1);
    // Begun before the takeover here, as a node that was down while the
    // old key left lab and the new one joined it again has it.
    store.addMember("lab", "alice", "alice", 1);
    tell(store, "bob", "alice", "waiting for the old key", 3, false);
    const cut = {
      fingerprint: "key-2",
      after: store.lastMessageId(),
      since: 10,
    };

    assert.deepEqual(store.cutOldKeys("alice", cut, 20, false), {
      waiting: 1,
      groups: [],
    });
    assert.deepEqual(store.groupsOf("alice").map((group) => group.name), [
      "lab",
    ]);
    // Followed (the names bucket's watch), then the binding's own sign-in.
    assert.equal(store.bindFingerprint("alice", "key-2"), "bound");
    assert.equal(store.cutOldKeys("alice", cut, 30, false), null);
    assert.deepEqual(store.cutOldKeys("alice", cut, 30, true), {
      waiting: 0,
      groups: ["lab"],
    });
    assert.deepEqual(store.groupsOf("alice"), []);
    assert.equal(store.cutOldKeys("alice", cut, 40, true), null);
  } finally {
    store.close();
  }
});

Deno.test("releaseName deletes what waits for the old key, ends its memberships and starts the name's private and group history after it, for the name only", () => {
  // With a cap, so that what the user is owed is kept up to date too.
  const store = openStore(":memory:", { maxBytes: 1024 * 1024 });
  try {
    addUsers(store, "alice", "bob");
    store.bindFingerprint("alice", "key-1");
    store.createGroup("lab", "lab", "bob", 1);
    store.addMember("lab", "bob", "bob", 1);
    store.addMember("lab", "alice", "alice", 1);
    tell(store, "bob", "alice", "read by the old key", 2);
    tell(store, "alice", "bob", "sent by the old key", 3);
    groupSay(store, "alice", "lab", "group line of the old key", 4);
    tell(store, "bob", "alice", "waiting for the old key", 5, false);
    groupSay(store, "bob", "lab", "group line waiting", 6, ["alice"]);

    assert.deepEqual(store.releaseName("alice", 7), {
      waiting: 2,
      groups: ["lab"],
    });
    assert.deepEqual(store.pendingFor("alice", 10), []);
    assert.deepEqual(store.groupsOf("alice"), []);
    assert.equal(store.membershipPeriods("lab", "alice")[0]?.leftAt, 7);
    const privately = { kind: "private", otherKey: "bob" } as const;
    assert.deepEqual(
      store.history({ ...privately, viewerKey: "alice" }, 10),
      [],
    );
    assert.deepEqual(
      store.history({ kind: "group", groupKey: "lab", viewerKey: "alice" }, 10),
      [],
    );
    // Bob's side of both stays whole.
    assert.deepEqual(
      texts(
        store.history(
          { kind: "private", viewerKey: "bob", otherKey: "alice" },
          10,
        ),
      ),
      ["read by the old key", "sent by the old key", "waiting for the old key"],
    );
    assert.equal(
      store.history({ kind: "group", groupKey: "lab", viewerKey: "bob" }, 10)
        .length,
      2,
    );

    // The next key's own conversation starts here.
    store.bindFingerprint("alice", "key-2");
    tell(store, "bob", "alice", "for the next key", 8, false);
    assert.deepEqual(texts(store.pendingFor("alice", 10)), [
      "for the next key",
    ]);
    assert.deepEqual(
      texts(store.history({ ...privately, viewerKey: "alice" }, 10)),
      ["for the next key"],
    );
  } finally {
    store.close();
  }
});
