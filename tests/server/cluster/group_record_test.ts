import assert from "node:assert/strict";
import {
  applyGroupChange,
  encodeGroupRecord,
  type GroupRecord,
  parseGroupRecord,
} from "../../../src/server/cluster/group_record.ts";

const team: GroupRecord = {
  name: "Team",
  createdBy: "alice",
  createdAt: 5,
  members: ["alice"],
};

Deno.test("applyGroupChange creates a group from its creation, then adds and removes members once each, ignoring case", () => {
  let record = applyGroupChange(null, {
    kind: "create",
    group: "Team",
    createdBy: "alice",
    createdAt: 5,
  });
  record = applyGroupChange(record, {
    kind: "add",
    group: "Team",
    member: "alice",
  });
  assert.deepEqual(record, team);
  record = applyGroupChange(record, {
    kind: "add",
    group: "team",
    member: "Bob",
  });
  record = applyGroupChange(record, {
    kind: "add",
    group: "team",
    member: "bob",
  });
  assert.deepEqual(record.members, ["alice", "Bob"]);
  record = applyGroupChange(record, {
    kind: "remove",
    group: "team",
    member: "ALICE",
  });
  assert.deepEqual(record.members, ["Bob"]);
});

Deno.test("applyGroupChange merges a group made on two nodes at once: the first record stays, both makers are members", () => {
  let record = applyGroupChange(team, {
    kind: "create",
    group: "team",
    createdBy: "bob",
    createdAt: 6,
  });
  record = applyGroupChange(record, {
    kind: "add",
    group: "team",
    member: "bob",
  });
  assert.deepEqual(record, { ...team, members: ["alice", "bob"] });
});

Deno.test("parseGroupRecord reads what encodeGroupRecord wrote and refuses bad records", () => {
  assert.deepEqual(parseGroupRecord(encodeGroupRecord(team)), team);
  for (
    const bad of [
      { ...team, name: "a b" },
      { ...team, createdAt: -1 },
      { ...team, members: ["alice", "ALICE"] },
      { ...team, members: "alice" },
    ]
  ) {
    assert.throws(
      () => parseGroupRecord(new TextEncoder().encode(JSON.stringify(bad))),
      TypeError,
      JSON.stringify(bad),
    );
  }
});
