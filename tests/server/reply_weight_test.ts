import assert from "node:assert/strict";
import {
  NAMES_PER_TOKEN,
  namesInReply,
  namesWeight,
} from "../../src/server/reply_weight.ts";
import { route } from "../_helpers/delivered.ts";
import { JOJO, NANA, NONE, room, SOPHIA } from "../_helpers/router_room.ts";

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
  // Without a group: each of the requester's groups as large as shown,
  // read from a count, not from the members.
  assert.equal(namesInReply(state, SOPHIA, { t: "members", id: 1 }), 400);
  assert.equal(namesInReply(state, NANA, { t: "members", id: 1 }), 0);
  assert.equal(namesInReply(state, SOPHIA, { t: "ping", id: 1 }), 0);
  assert.equal(namesInReply(state, SOPHIA, { t: "history", id: 1 }), 0);
});
