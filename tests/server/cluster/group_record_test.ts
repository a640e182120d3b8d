import assert from "node:assert/strict";
import {
  applyGroupChange,
  changesSince,
  encodeGroupRecord,
  type GroupRecord,
  JOURNAL_LENGTH,
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

Deno.test("applyGroupChange with a node keeps a numbered journal of membership changes, the last JOURNAL_LENGTH, which parses back", () => {
  let record = applyGroupChange(null, {
    kind: "create",
    group: "Team",
    createdBy: "alice",
    createdAt: 5,
  }, "n1");
  assert.equal(record.count, undefined);
  record = applyGroupChange(record, {
    kind: "add",
    group: "Team",
    member: "alice",
  }, "n1");
  // Not a change: no entry.
  record = applyGroupChange(record, {
    kind: "add",
    group: "Team",
    member: "ALICE",
  }, "n1");
  record = applyGroupChange(record, {
    kind: "remove",
    group: "Team",
    member: "nobody",
  }, "n1");
  assert.deepEqual(record.changes, [
    { n: 1, member: "alice", joined: true, node: "n1" },
  ]);
  for (let i = 0; i < JOURNAL_LENGTH; i++) {
    record = applyGroupChange(record, {
      kind: i % 2 === 0 ? "add" : "remove",
      group: "Team",
      member: "bob",
    }, "n2");
  }
  assert.equal(record.count, JOURNAL_LENGTH + 1);
  assert.equal(record.changes!.length, JOURNAL_LENGTH);
  assert.equal(record.changes![0]!.n, 2);
  assert.deepEqual(parseGroupRecord(encodeGroupRecord(record)), record);
  // What a node that saw change 5 missed; one that saw only 0 missed more
  // than the journal holds.
  assert.deepEqual(
    changesSince(record, 5)!.map((change) => change.n),
    Array.from({ length: JOURNAL_LENGTH - 4 }, (_, i) => i + 6),
  );
  assert.equal(changesSince(record, 0), null);
  assert.deepEqual(changesSince(record, JOURNAL_LENGTH + 1), []);
  // A record from a node that keeps no journal: only the difference.
  assert.equal(changesSince(team, 0), null);
});

Deno.test("parseGroupRecord refuses a journal that is not numbered up to the count, or names a bad member or node", () => {
  const base = { ...team, count: 2 };
  const change = { n: 2, member: "bob", joined: true, node: "n1" };
  for (
    const bad of [
      { ...base, changes: [{ ...change, n: 1 }] },
      { ...base, changes: [{ ...change, member: "no spaces" }] },
      { ...base, changes: [{ ...change, node: "a.b" }] },
      { ...base, changes: [{ ...change, joined: "yes" }] },
      { ...base, count: -1, changes: [] },
      { ...base, changes: "none" },
    ]
  ) {
    assert.throws(
      () => parseGroupRecord(new TextEncoder().encode(JSON.stringify(bad))),
      TypeError,
      JSON.stringify(bad),
    );
  }
  assert.deepEqual(
    parseGroupRecord(
      new TextEncoder().encode(JSON.stringify({ ...base, changes: [change] })),
    ),
    { ...base, changes: [change] },
  );
});
