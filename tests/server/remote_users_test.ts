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
  assert.deepEqual(users.put("a.n1", user("Alice", "n1"), 10), {
    name: "Alice",
    online: true,
  });
  assert.equal(users.put("a.n1", user("Alice", "n1"), 20), null);
  assert.equal(users.put("a.n2", user("Alice", "n2"), 20), null);
  assert.equal(users.size, 1);
  assert.deepEqual([...users.users()].map((u) => u.name), ["Alice"]);
});

Deno.test("RemoteUsers.delete says a user left only when their last entry goes", () => {
  const users = new RemoteUsers();
  users.put("a.n1", user("Alice", "n1"), 10);
  users.put("a.n2", user("Alice", "n2"), 10);
  assert.equal(users.delete("a.n1"), null);
  assert.equal(users.get("alice")?.node, "n2");
  assert.deepEqual(users.delete("a.n2"), { name: "Alice", online: false });
  assert.equal(users.get("alice"), undefined);
  assert.equal(users.delete("a.n2"), null, "unknown entries change nothing");
});

Deno.test("RemoteUsers.expire drops entries not refreshed within the TTL, and only those", () => {
  const users = new RemoteUsers();
  users.put("a.dead", user("alice", "dead"), 1000);
  users.put("b.live", user("bob", "live"), 1000);
  users.put("b.live", user("bob", "live"), 2500);
  assert.deepEqual(users.expire(2500, 1500), []);
  assert.deepEqual(users.expire(2501, 1500), [{
    name: "alice",
    online: false,
  }]);
  assert.deepEqual([...users.users()].map((u) => u.name), ["bob"]);
});

Deno.test("RemoteUsers.get gives the most recently seen entry of a user", () => {
  const users = new RemoteUsers();
  users.put("a.n1", user("alice", "n1", 1), 10);
  users.put("a.n2", user("alice", "n2", 2), 30);
  users.put("a.n1", user("alice", "n1", 1), 20);
  assert.equal(users.get("alice")?.node, "n2");
});
