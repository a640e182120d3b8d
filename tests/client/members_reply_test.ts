import assert from "node:assert/strict";
import {
  entryOf,
  membersOf,
  namesList,
} from "../../src/client/members_reply.ts";

const reply = (group: string) => ({
  t: "members" as const,
  re: 1,
  groups: [{ group, members: ["alice"], online: ["alice"] }],
});

Deno.test("membersOf takes the entry of the group asked about, case aside", () => {
  assert.deepEqual(membersOf(reply("Crew"), "crew"), {
    entry: reply("Crew").groups[0],
  });
});

Deno.test("membersOf refuses a reply about another group, naming it", () => {
  assert.deepEqual(membersOf(reply("parents"), "crew"), { other: "parents" });
});

Deno.test("membersOf says when the reply lists no group", () => {
  assert.deepEqual(membersOf({ t: "members", re: 1, groups: [] }, "crew"), {
    none: true,
  });
});

Deno.test("entryOf takes only a members reply's first entry, if it is the group asked about", () => {
  assert.deepEqual(entryOf(reply("Crew"), "crew"), reply("Crew").groups[0]);
  assert.equal(entryOf(reply("parents"), "crew"), undefined);
  // The group asked about, listed after another one, is not taken either.
  const both = {
    ...reply("parents"),
    groups: [...reply("parents").groups, ...reply("crew").groups],
  };
  assert.equal(entryOf(both, "crew"), undefined);
  assert.equal(
    entryOf({ t: "error", re: 1, code: "no_such_group", text: "x" }, "crew"),
    undefined,
  );
});

Deno.test("namesList joins names with 'and', and counts those past ten", () => {
  assert.equal(namesList(["a"]), "a");
  assert.equal(namesList(["a", "b", "c"]), "a, b and c");
  assert.equal(
    namesList(Array.from({ length: 11 }, (_, i) => `m${i}`)),
    "m0, m1, m2, m3, m4, m5, m6, m7, m8, m9 and 1 more",
  );
});
