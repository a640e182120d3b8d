import assert from "node:assert/strict";
import { MAX_NAMES_SEEN, NamesSeen } from "../../src/client/names_seen.ts";

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
