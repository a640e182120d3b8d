import assert from "node:assert/strict";
import process from "node:process";
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

Deno.test("applyGroupRecord joining one user to many groups, newest first, costs about what oldest first does, and keeps them in creation order", () => {
  // Another node's records are not held to this node's limits (a hostile
  // node can put a user in every group it made): the user's list of groups
  // (state.ts) must not cost a pass over it for each group joined.
  const groups = 12_000;
  const joinAll = (newestFirst: boolean) => {
    const state = node();
    for (let i = 0; i < groups; i++) {
      applyGroupRecord(state, {
        name: `g${i}`,
        createdBy: "alice",
        createdAt: 5,
        members: ["alice"],
      }, 9);
    }
    const order = [...Array(groups).keys()];
    if (newestFirst) order.reverse();
    // CPU time, not wall time: on a loaded machine the wall clock counts
    // the time other processes ran, more in one of the two runs than in
    // the other (newest first 12,923 ms of wall time, oldest first 3,850
    // ms, with the cores busy several times over).
    const start = process.cpuUsage();
    for (const i of order) {
      applyGroupRecord(state, {
        name: `g${i}`,
        createdBy: "alice",
        createdAt: 5,
        members: ["alice", "jojo"],
      }, 9);
    }
    const { user, system } = process.cpuUsage(start);
    const ms = (user + system) / 1000;
    assert.deepEqual(
      state.firstGroupsOf("jojo", 3).map((group) => group.name),
      ["g0", "g1", "g2"],
    );
    assert.equal(state.groupCountOf("jojo"), groups);
    return ms;
  };
  const oldestFirst = joinAll(false);
  const newestFirst = joinAll(true);
  assert.ok(
    newestFirst < 3 * oldestFirst + 100,
    `newest first ${newestFirst.toFixed(0)} ms of CPU, oldest first ${
      oldestFirst.toFixed(0)
    } ms`,
  );
});
