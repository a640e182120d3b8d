import assert from "node:assert/strict";
import {
  learnSideLists,
  MAX_NAMES_SEEN,
  NamesSeen,
  type SideLists,
} from "../../src/client/names_seen.ts";

Deno.test("NamesSeen keeps the MAX_NAMES_SEEN newest users and groups a server names, and its own name", () => {
  const names = new NamesSeen("Bob");
  const invented = MAX_NAMES_SEEN + 500;
  for (let i = 0; i < invented; i++) {
    names.learnNames({ t: "presence", name: `u${i}`, online: true });
    names.learnNames({
      t: "membership",
      group: `g${i}`,
      name: "x",
      joined: true,
    });
  }
  assert.equal(names.users.size, MAX_NAMES_SEEN);
  assert.equal(names.groups.size, MAX_NAMES_SEEN);
  assert.equal(names.users.get("bob"), "Bob");
  assert.equal(names.users.get(`u${invented - 1}`), `u${invented - 1}`);
  assert.equal(names.users.has("u500"), false);
  assert.equal(names.groups.has(`g${invented - 1}`), true);
  assert.equal(names.groups.has("g0"), false);
  // A name seen again is new again: it stays.
  names.learnNames({ t: "public", from: "u600", ts: 1 });
  for (let i = 0; i < 100; i++) {
    names.learnNames({ t: "presence", name: `v${i}`, online: true });
  }
  assert.equal(names.users.has("u600"), true);
  assert.equal(names.users.has("u601"), false);
});

Deno.test("NamesSeen keeps the keys of the MAX_NAMES_SEEN users listed last", () => {
  const names = new NamesSeen("bob");
  const key = "SHA256:" + "k".repeat(43);
  const users = Array.from({ length: MAX_NAMES_SEEN + 1 }, (_, i) => ({
    name: `u${i}`,
    lastMessageAt: null,
    fingerprint: key,
  }));
  names.learnKeys({ t: "users", re: 1, users });
  assert.equal(names.keyOf("u0"), null);
  assert.equal(names.keyOf("u1"), key);
  assert.equal(names.keyOf(`u${MAX_NAMES_SEEN}`), key);
});

Deno.test("learnSideLists (the web page's people, groups and keys) keeps the MAX_NAMES_SEEN newest a server names, and the page's own name", () => {
  const lists: SideLists = {
    people: new Map(),
    away: new Map(),
    groups: new Map(),
    keys: new Map(),
  };
  const key = "SHA256:" + "k".repeat(43);
  assert.equal(
    learnSideLists(
      {
        t: "users",
        re: 1,
        users: [{ name: "Bob", lastMessageAt: null, away: "lunch" }],
      },
      lists,
      "bob",
    ),
    true,
  );
  const invented = MAX_NAMES_SEEN + 500;
  for (let i = 0; i < invented; i++) {
    learnSideLists(
      { t: "presence", name: `u${i}`, online: true },
      lists,
      "bob",
    );
    learnSideLists(
      { t: "membership", group: `g${i}`, name: "x", joined: true },
      lists,
      "bob",
    );
    learnSideLists(
      { t: "group", group: `h${i}`, from: "x", ts: 1 },
      lists,
      "bob",
    );
  }
  assert.equal(lists.people.size, MAX_NAMES_SEEN);
  assert.equal(lists.people.get("bob"), "Bob");
  assert.equal(lists.people.has("u500"), false);
  assert.equal(lists.people.get(`u${invented - 1}`), `u${invented - 1}`);
  assert.equal(lists.groups.size, MAX_NAMES_SEEN);
  assert.deepEqual(lists.groups.get(`h${invented - 1}`), {
    name: `h${invented - 1}`,
    joined: true,
  });
  assert.equal(lists.groups.has(`g${invented - 1}`), true);
  // Keys, from /list answers as long as a server likes, stay bounded too.
  const users = Array.from({ length: MAX_NAMES_SEEN + 1 }, (_, i) => ({
    name: `k${i}`,
    lastMessageAt: null,
    fingerprint: key,
  }));
  learnSideLists({ t: "users", re: 2, users }, lists, "bob");
  assert.equal(lists.keys.size, MAX_NAMES_SEEN);
  assert.equal(lists.keys.has("k0"), false);
  assert.equal(lists.keys.get(`k${MAX_NAMES_SEEN}`), key);
  // A message that is not about who is there changes nothing.
  assert.equal(
    learnSideLists({ t: "pong", re: 3 }, lists, "bob"),
    false,
  );
});
