import assert from "node:assert/strict";
import { groupQueryNote } from "../../src/client/query_notes.ts";

const members = (...groups: { group: string; members: string[] }[]) => ({
  t: "members" as const,
  re: 1,
  groups: groups.map((g) => ({ ...g, online: [] })),
});

Deno.test("groupQueryNote says when self is not among the group's members", () => {
  assert.equal(
    groupQueryNote(
      "crew",
      "sophia",
      members({ group: "Crew", members: ["jojo"] }),
    ),
    "You are not a member of group 'crew'. Join it with /join crew",
  );
  assert.equal(
    groupQueryNote(
      "crew",
      "Sophia",
      members({ group: "crew", members: ["sophia"] }),
    ),
    null,
  );
});

Deno.test("groupQueryNote reads the members reply as membersOf does: an entry about another group says nothing", () => {
  // The group asked about, listed after another one: not the reply asked
  // for, so nothing is said of it (as the group sessions read it).
  const reply = members(
    { group: "parents", members: ["sophia"] },
    { group: "crew", members: ["jojo"] },
  );
  assert.equal(groupQueryNote("crew", "sophia", reply), null);
});
