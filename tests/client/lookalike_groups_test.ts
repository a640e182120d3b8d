import assert from "node:assert/strict";
import {
  groupsBySkeleton,
  lookalikeGroupIn,
  lookalikeGroupWarning,
  LookalikeGroupWarnings,
} from "../../src/client/lookalike_groups.ts";

const SERVER = "SHA256:server";

Deno.test("lookalikeGroupIn finds a known group that reads like another name, on the same server only", () => {
  const index = groupsBySkeleton([
    `${SERVER} team`, // our own chain
    `${SERVER} class alice`, // a member's chain
    `SHA256:other parents bob`,
  ]);
  assert.equal(lookalikeGroupIn(index, SERVER, "tearn"), "team");
  assert.equal(lookalikeGroupIn(index, SERVER, "c1ass"), "class");
  assert.equal(lookalikeGroupIn(index, SERVER, "CLASS"), null); // itself
  assert.equal(lookalikeGroupIn(index, SERVER, "team"), null);
  assert.equal(lookalikeGroupIn(index, SERVER, "teams"), null);
  assert.equal(lookalikeGroupIn(index, SERVER, "parent5"), null);
  assert.equal(lookalikeGroupIn(index, SERVER, "pArents"), null);
});

Deno.test("LookalikeGroupWarnings warns once for a pair of look-alike group names, at the first line of either", () => {
  const known = new Set(["team", "tearn"]);
  const lookalikeOf = (group: string) =>
    group.toLowerCase() === "tearn"
      ? "team"
      : group.toLowerCase() === "team" && known.has("tearn")
      ? "tearn"
      : null;
  const warnings = new LookalikeGroupWarnings();
  assert.equal(
    warnings.before("tearn", lookalikeOf),
    lookalikeGroupWarning("tearn", "team"),
  );
  assert.equal(warnings.before("TEARN", lookalikeOf), null);
  assert.equal(warnings.before("team", lookalikeOf), null);
  assert.equal(warnings.before("teams", () => null), null);
  assert.equal(
    new LookalikeGroupWarnings().before("team", lookalikeOf),
    lookalikeGroupWarning("team", "tearn"),
  );
});
