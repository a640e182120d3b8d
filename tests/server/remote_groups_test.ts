import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import { connect, delivered, route } from "../_helpers/delivered.ts";
import { applyGroupRecord } from "../../src/server/remote_groups.ts";
import { ServerState } from "../../src/server/state.ts";

const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const NONE = new Uint8Array(0);

/** jojo (1) signed in on this node. */
function node(): ServerState {
  const state = new ServerState({}, memoryStore());
  connect(state, 1);
  route(state, 1, { t: "register", id: 0, name: "jojo", key: KEY }, NONE, 1);
  return state;
}

Deno.test("applyGroupRecord makes a group another node made, with its members, in this node's store too", () => {
  const state = node();
  const out = applyGroupRecord(state, {
    name: "team",
    createdBy: "alice",
    createdAt: 5,
    members: ["alice", "jojo"],
  }, 9);
  const group = state.group("team")!;
  assert.deepEqual([...group.members.values()], ["alice", "jojo"]);
  assert.deepEqual(state.store.members("team").map((m) => m.userName), [
    "alice",
    "jojo",
  ]);
  // jojo, online here, is told alice is a member; not told about himself.
  assert.deepEqual(
    delivered(state, out).map((o) => [o.to, o.message]),
    [[[1], { t: "membership", group: "team", name: "alice", joined: true }]],
  );
});

Deno.test("applyGroupRecord removes those who left, and changes nothing when the group already matches", () => {
  const state = node();
  route(state, 1, { t: "create", id: 1, group: "team" }, NONE, 2);
  applyGroupRecord(state, {
    name: "team",
    createdBy: "jojo",
    createdAt: 2,
    members: ["jojo", "alice"],
  }, 3);
  state.recordGroupChanges();
  const out = applyGroupRecord(state, {
    name: "team",
    createdBy: "jojo",
    createdAt: 2,
    members: ["jojo"],
  }, 4);
  assert.deepEqual(
    delivered(state, out).map((o) => o.message),
    [{ t: "membership", group: "team", name: "alice", joined: false }],
  );
  assert.deepEqual(state.takeGroupChanges(), [{
    kind: "remove",
    group: "team",
    member: "alice",
  }]);
  assert.deepEqual(
    applyGroupRecord(state, {
      name: "team",
      createdBy: "jojo",
      createdAt: 2,
      members: ["jojo"],
    }, 5),
    [],
  );
  assert.deepEqual(state.takeGroupChanges(), []);
});

Deno.test("ServerState records group changes only when asked to", () => {
  const state = node();
  route(state, 1, { t: "create", id: 1, group: "a" }, NONE, 2);
  assert.deepEqual(state.takeGroupChanges(), []);
  state.recordGroupChanges();
  route(state, 1, { t: "create", id: 2, group: "b" }, NONE, 3);
  route(state, 1, { t: "leave", id: 3, group: "a" }, NONE, 4);
  assert.deepEqual(state.takeGroupChanges(), [
    { kind: "create", group: "b", createdBy: "jojo", createdAt: 3 },
    { kind: "add", group: "b", member: "jojo" },
    { kind: "remove", group: "a", member: "jojo" },
  ]);
});

Deno.test("applyGroupRecord with the changes made elsewhere tells each one, also of someone who joined and left between two records", () => {
  const state = node();
  route(state, 1, { t: "create", id: 1, group: "team" }, NONE, 2);
  const out = applyGroupRecord(
    state,
    {
      name: "team",
      createdBy: "jojo",
      createdAt: 2,
      members: ["jojo", "alice"],
      count: 4,
      changes: [
        { n: 2, member: "alice", joined: true, node: "n2" },
        { n: 3, member: "bob", joined: true, node: "n2" },
        { n: 4, member: "bob", joined: false, node: "n3" },
      ],
    },
    5,
    [
      { n: 2, member: "alice", joined: true, node: "n2" },
      { n: 3, member: "bob", joined: true, node: "n2" },
      { n: 4, member: "bob", joined: false, node: "n3" },
    ],
  );
  assert.deepEqual([...state.group("team")!.members.values()], [
    "jojo",
    "alice",
  ]);
  assert.deepEqual(
    delivered(state, out).map((o) => [o.to, o.message]),
    [
      [[1], { t: "membership", group: "team", name: "alice", joined: true }],
      [[1], { t: "membership", group: "team", name: "bob", joined: true }],
      [[1], { t: "membership", group: "team", name: "bob", joined: false }],
    ],
  );
});
