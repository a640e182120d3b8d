import assert from "node:assert/strict";
import { type RemoteUser, RemoteUsers } from "../../src/server/remote_users.ts";

function user(name: string, node: string, connectedAt = 1): RemoteUser {
  return {
    name,
    nameKey: name.toLowerCase(),
    node,
    connectedAt,
    lastMessageAt: null,
    fingerprint: null,
    away: null,
  };
}

Deno.test("RemoteUsers.put announces a user once, however many nodes report them", () => {
  const users = new RemoteUsers();
  assert.deepEqual(users.put("a.n1", user("Alice", "n1")), {
    name: "Alice",
    online: true,
  });
  assert.equal(users.put("a.n1", user("Alice", "n1")), null);
  assert.equal(users.put("a.n2", user("Alice", "n2")), null);
  assert.equal(users.size, 1);
  assert.deepEqual([...users.users()].map((u) => u.name), ["Alice"]);
});

Deno.test("RemoteUsers.delete says a user left only when their last entry goes", () => {
  const users = new RemoteUsers();
  users.put("a.n1", user("Alice", "n1"));
  users.put("a.n2", user("Alice", "n2"));
  assert.equal(users.delete("a.n1"), null);
  assert.equal(users.get("alice")?.node, "n2");
  assert.deepEqual(users.delete("a.n2"), { name: "Alice", online: false });
  assert.equal(users.get("alice"), undefined);
  assert.equal(users.delete("a.n2"), null, "unknown entries change nothing");
});

Deno.test("RemoteUsers.dropNode takes a node's users offline, and only those with no other node", () => {
  const users = new RemoteUsers();
  users.put("a.dead", user("alice", "dead"));
  users.put("b.dead", user("bob", "dead"));
  users.put("b.live", user("bob", "live"));
  users.put("c.live", user("carol", "live"));
  assert.deepEqual(users.dropNode("dead"), [{ name: "alice", online: false }]);
  assert.deepEqual([...users.users()].map((u) => u.name), ["bob", "carol"]);
  assert.deepEqual(users.dropNode("dead"), []);
});

Deno.test("RemoteUsers.get gives the user's newest session", () => {
  const users = new RemoteUsers();
  users.put("a.n2", user("alice", "n2", 2));
  users.put("a.n1", user("alice", "n1", 1));
  assert.equal(users.get("alice")?.node, "n2");
});

Deno.test("RemoteUsers.lookalikes finds users online elsewhere whose names look like one, until they go", () => {
  const users = new RemoteUsers();
  users.put("a.n1", user("Alice", "n1"));
  users.put("m.n2", user("mallory", "n2"));
  assert.deepEqual(users.lookalikes("a1ice").map((u) => u.name), ["Alice"]);
  assert.deepEqual(users.lookalikes("alice"), [], "not the name itself");
  assert.deepEqual(users.lookalikes("rnallory").map((u) => u.node), ["n2"]);
  assert.deepEqual(users.lookalikes("alice2"), []);
  users.put("a.n2", user("Alice", "n2"));
  users.delete("a.n1");
  assert.equal(users.lookalikes("a1ice").length, 1, "still on n2");
  users.delete("a.n2");
  assert.deepEqual(users.lookalikes("a1ice"), []);
  users.dropNode("n2");
  assert.deepEqual(users.lookalikes("rnallory"), []);
});
