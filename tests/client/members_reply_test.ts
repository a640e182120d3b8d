import assert from "node:assert/strict";
import { membersOf } from "../../src/client/members_reply.ts";

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
