import assert from "node:assert/strict";
import { looksAlike, nameSkeleton } from "../../src/protocol/name_skeleton.ts";

/**
 * The test vectors of docs/PROTOCOL.md 8, "Look-alike names": keep them in
 * step with it.
 * Each pair looks alike: one is refused when the other is another key's.
 */
const LOOKALIKE_PAIRS: readonly (readonly [string, string])[] = [
  ["alice", "a1ice"],
  ["alice", "aIice"], // capital i
  ["alice", "ALICE"],
  ["alice", "aiice"], // `aiice` may sign in as `aIice`
  ["bob", "b0b"],
  ["bob", "BOB"],
  ["mallory", "ma11ory"],
  ["mallory", "rnallory"],
  ["mallory", "RNALLORY"],
  ["w", "vv"],
  ["walter", "vvalter"],
  ["david", "clavid"],
  ["david", "c1avicl"],
  ["vw", "wv"], // both read `vvv`
  ["vw", "vvv"],
  ["neil", "nell"], // `neil` may sign in as `NeIl`
  ["lucia", "luda"], // `lucIa`
  ["o0", "OO"],
];

/** Pairs that do not: both may be bound to different keys. */
const DISTINCT_PAIRS: readonly (readonly [string, string])[] = [
  ["alice", "alice2"],
  ["alice", "alice_"],
  ["alice_", "alice-"],
  ["j.doe", "j_doe"],
  ["bob", "bobb"],
  ["josh", "jo5h"], // 5 is not folded
  ["zed", "2ed"], // nor 2
  ["bob", "8ob"], // nor 8
  ["mm", "nnn"], // nn is not m
  ["ann", "arm"], // not rn -> m: `arm` is `arrn`
  ["tim", "tin"],
];

Deno.test("nameSkeleton folds case, 0 -> o, 1/i/I/l -> l, and expands m -> rn, w -> vv, d -> cl", () => {
  assert.equal(nameSkeleton("Alice"), "allce");
  assert.equal(nameSkeleton("B0B"), "bob");
  assert.equal(nameSkeleton("mallory"), "rnallory");
  assert.equal(nameSkeleton("Walter_1"), "vvalter_l");
  assert.equal(nameSkeleton("david.o"), "clavlcl.o");
  assert.equal(nameSkeleton("x-y_z.9"), "x-y_z.9", "left as it is");
});

Deno.test("nameSkeleton: every look-alike pair of docs/PROTOCOL.md has one skeleton", () => {
  for (const [a, b] of LOOKALIKE_PAIRS) {
    assert.equal(nameSkeleton(a), nameSkeleton(b), `${a} / ${b}`);
    assert.ok(looksAlike(a, b) && looksAlike(b, a), `${a} / ${b}`);
  }
});

Deno.test("nameSkeleton: the distinct pairs of docs/PROTOCOL.md have two", () => {
  for (const [a, b] of DISTINCT_PAIRS) {
    assert.notEqual(nameSkeleton(a), nameSkeleton(b), `${a} / ${b}`);
    assert.equal(looksAlike(a, b), false, `${a} / ${b}`);
  }
});

Deno.test("nameSkeleton is the same for every casing of a name (names are unique ignoring case)", () => {
  for (const name of ["Alice", "MaLLory", "DaVId", "w1ll", "O0o"]) {
    assert.equal(nameSkeleton(name), nameSkeleton(name.toLowerCase()));
    assert.equal(nameSkeleton(name), nameSkeleton(name.toUpperCase()));
  }
});
