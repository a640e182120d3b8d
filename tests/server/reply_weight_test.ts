import assert from "node:assert/strict";
import {
  NAMES_PER_TOKEN,
  namesInReply,
  namesWeight,
} from "../../src/server/reply_weight.ts";
import { MAX_MEMBERS_SHOWN } from "../../src/protocol/limits.ts";
import { connect, route } from "../_helpers/delivered.ts";
import {
  JOJO,
  KEY,
  NANA,
  NONE,
  room,
  SOPHIA,
} from "../_helpers/router_room.ts";

Deno.test("namesWeight is one token, and one more per NAMES_PER_TOKEN names", () => {
  assert.equal(namesWeight(0), 1);
  assert.equal(namesWeight(NAMES_PER_TOKEN - 1), 1);
  assert.equal(namesWeight(NAMES_PER_TOKEN), 2);
  // The largest reply of each: 2000 users or groups, 20 groups of 200.
  assert.equal(namesWeight(2000), 8);
  assert.equal(namesWeight(4000), 16);
});

Deno.test("namesInReply counts the users online, the groups, and the members a reply may name; other requests none", () => {
  const state = room({ maxGroupsPerUser: 100 });
  assert.equal(namesInReply(state, SOPHIA, { t: "list", id: 1 }), 3);
  assert.equal(namesInReply(state, SOPHIA, { t: "groups", id: 1 }), 0);
  route(state, SOPHIA, { t: "create", id: 1, group: "team" }, NONE, 4);
  route(state, JOJO, { t: "join", id: 1, group: "team" }, NONE, 5);
  route(state, SOPHIA, { t: "create", id: 1, group: "band" }, NONE, 6);
  assert.equal(namesInReply(state, SOPHIA, { t: "groups", id: 1 }), 2);
  assert.equal(
    namesInReply(state, NANA, { t: "members", id: 1, group: "TEAM" }),
    2,
  );
  assert.equal(
    namesInReply(state, NANA, { t: "members", id: 1, group: "nope" }),
    0,
  );
  // Without a group: the requester's groups and their members, as the
  // reply holds them (team of 2 and band of 1), not 200 for each.
  assert.equal(namesInReply(state, SOPHIA, { t: "members", id: 1 }), 5);
  assert.equal(namesInReply(state, NANA, { t: "members", id: 1 }), 0);
  assert.equal(namesInReply(state, SOPHIA, { t: "ping", id: 1 }), 0);
  assert.equal(namesInReply(state, SOPHIA, { t: "history", id: 1 }), 0);
});

Deno.test("namesInReply for members without a group counts the first groups shown, each at most as large as shown", () => {
  const state = room({ maxGroupsPerUser: 100, maxMembersPerGroup: 1000 });
  // 25 groups: the reply shows the first 20 made, whoever joined when.
  for (let i = 0; i < 25; i++) {
    route(state, SOPHIA, { t: "create", id: 1, group: `g${i}` }, NONE, 4);
  }
  route(state, JOJO, { t: "join", id: 1, group: "g24" }, NONE, 5);
  route(state, JOJO, { t: "join", id: 1, group: "g3" }, NONE, 5);
  assert.deepEqual(
    state.groupsOf("jojo").map((group) => group.name),
    ["g3", "g24"],
  );
  assert.equal(namesInReply(state, JOJO, { t: "members", id: 1 }), 2 + 4);
  // Sophia's first 20 groups of one member each (and g3 of two).
  assert.equal(
    namesInReply(state, SOPHIA, { t: "members", id: 1 }),
    20 + 20 + 1,
  );
  // A group larger than a reply shows is counted as shown.
  for (let id = 100; id < 400; id++) {
    connect(state, id);
    route(
      state,
      id,
      { t: "register", id: 0, name: `m${id}`, key: KEY },
      NONE,
      6,
    );
    route(state, id, { t: "join", id: 1, group: "g0" }, NONE, 6);
    route(state, id, { t: "join", id: 1, group: "g1" }, NONE, 6);
  }
  assert.equal(
    namesInReply(state, SOPHIA, { t: "members", id: 1 }),
    20 + 2 * MAX_MEMBERS_SHOWN + 2 + 17,
  );
  assert.equal(
    namesWeight(namesInReply(state, SOPHIA, { t: "members", id: 1 })),
    2,
  );
});
