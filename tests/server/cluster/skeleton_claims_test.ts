import assert from "node:assert/strict";
import {
  claimGroup,
  claimUser,
  confirmUser,
  encodeSkeletonClaims,
  parseSkeletonClaims,
  PENDING_CLAIM_MS,
  type SkeletonClaims,
  staleCandidates,
  withGroup,
  withoutGroup,
  withoutStale,
  withoutUser,
  withUser,
} from "../../../src/server/cluster/skeleton_claims.ts";

const F = "SHA256:" + "F".repeat(43);
const G = "SHA256:" + "G".repeat(43);

const alice: SkeletonClaims = {
  users: [{ name: "alice", fingerprint: F }],
  groups: [],
};

Deno.test("claimUser adds a free skeleton's first name and a look-alike for the same key, and writes nothing for a name the key holds", () => {
  assert.deepEqual(claimUser(null, "alice", F), {
    answer: { kind: "bound", fingerprint: F },
    next: alice,
  });
  assert.deepEqual(claimUser(alice, "a1ice", F), {
    answer: { kind: "bound", fingerprint: F },
    next: {
      users: [...alice.users, { name: "a1ice", fingerprint: F }],
      groups: [],
    },
  });
  assert.deepEqual(claimUser(alice, "ALICE", F), {
    answer: { kind: "bound", fingerprint: F },
    next: null,
  });
});

Deno.test("claimUser refuses another key a look-alike, the name itself as bound, and any name of a group's skeleton", () => {
  assert.deepEqual(claimUser(alice, "a1ice", G), {
    answer: { kind: "lookalike", name: "alice" },
    next: null,
  });
  assert.deepEqual(claimUser(alice, "Alice", G).answer, {
    kind: "bound",
    fingerprint: F,
  });
  const team: SkeletonClaims = {
    users: [],
    groups: [{ name: "tearn", createdBy: "carol" }, {
      name: "team",
      createdBy: "dave",
    }],
  };
  // The group of the name itself is named when there is one.
  assert.deepEqual(claimUser(team, "TEAM", F).answer, {
    kind: "group",
    name: "team",
  });
  assert.deepEqual(claimUser(team, "tearn", F).answer, {
    kind: "group",
    name: "tearn",
  });
});

Deno.test("claimGroup refuses a user's name or look-alike (the creator's own too) and another creator's look-alike group, and lets a creator have look-alikes of their groups", () => {
  assert.deepEqual(claimGroup(alice, "a1ice", "alice").answer, {
    kind: "user",
    name: "alice",
  });
  const team = claimGroup(null, "team", "carol");
  assert.deepEqual(team, {
    answer: { kind: "claimed", added: true },
    next: { users: [], groups: [{ name: "team", createdBy: "carol" }] },
  });
  assert.deepEqual(claimGroup(team.next, "tearn", "dave").answer, {
    kind: "group",
    name: "team",
  });
  assert.equal(claimGroup(team.next, "tearn", "Carol").answer.kind, "claimed");
  // The group itself: nothing to add (the router refuses it as existing).
  assert.deepEqual(claimGroup(team.next, "TEAM", "dave"), {
    answer: { kind: "claimed", added: false },
    next: null,
  });
});

Deno.test("withUser keeps a binding made before the rule beside another key's, and withoutUser and withoutGroup drop by name key", () => {
  const both = withUser(alice, "a1ice", G);
  assert.deepEqual(both?.users.map((user) => user.fingerprint), [F, G]);
  assert.equal(withUser(both, "A1ICE", G), null);
  assert.deepEqual(withoutUser(both, "a1ice"), alice);
  assert.equal(withoutUser(alice, "bob"), null);
  // A claimant dropping its own claim leaves another key's of the name.
  const twice: SkeletonClaims = {
    users: [...alice.users, { name: "alice", fingerprint: G }],
    groups: [],
  };
  assert.deepEqual(withoutUser(twice, "alice", G), alice);
  assert.equal(withoutUser(alice, "alice", G), null);
  const groups: SkeletonClaims = {
    users: [],
    groups: [{ name: "Team", createdBy: "carol" }],
  };
  assert.deepEqual(withoutGroup(groups, "team"), { users: [], groups: [] });
  assert.equal(withoutGroup(groups, "tearn"), null);
});

Deno.test("claimUser adds a pending claim, confirmUser confirms it while it is there and says false once it is gone, and withUser confirms one whose binding is there", () => {
  const pending = { node: "n1", since: 1_000 };
  const claimed = claimUser(null, "alice", F, pending);
  assert.deepEqual(claimed.next, {
    users: [{ name: "alice", fingerprint: F, pending }],
    groups: [],
  });
  assert.deepEqual(confirmUser(claimed.next, "alice", F), {
    answer: true,
    next: alice,
  });
  assert.deepEqual(confirmUser(alice, "alice", F), {
    answer: true,
    next: null,
  });
  assert.deepEqual(confirmUser(alice, "alice", G), {
    answer: false,
    next: null,
  });
  assert.deepEqual(confirmUser(null, "alice", F).answer, false);
  assert.deepEqual(withUser(claimed.next, "Alice", F), alice);
});

Deno.test("staleCandidates lists the pending claims PENDING_CLAIM_MS old or more, and withoutStale drops them, so another key's claim is decided without them", () => {
  const old = {
    name: "alice",
    fingerprint: F,
    pending: { node: "n1", since: 0 },
  };
  const young = {
    name: "bob",
    fingerprint: F,
    pending: { node: "n1", since: 1 },
  };
  const claims: SkeletonClaims = {
    users: [old, young, { name: "carol", fingerprint: F }],
    groups: [],
  };
  assert.deepEqual(staleCandidates(claims, PENDING_CLAIM_MS - 1), []);
  assert.deepEqual(staleCandidates(claims, PENDING_CLAIM_MS), [old]);
  assert.deepEqual(staleCandidates(null, PENDING_CLAIM_MS), []);
  const left = withoutStale(claims, [old]);
  assert.deepEqual(left?.users.map((user) => user.name), ["bob", "carol"]);
  assert.equal(withoutStale(claims, []), claims);
  const family: SkeletonClaims = { users: [old], groups: [] };
  assert.deepEqual(claimUser(family, "a1ice", G).answer, {
    kind: "lookalike",
    name: "alice",
  });
  assert.deepEqual(claimUser(withoutStale(family, [old]), "a1ice", G).answer, {
    kind: "bound",
    fingerprint: G,
  });
});

Deno.test("withGroup adds a group made before the rule as it is, once", () => {
  const team = withGroup(alice, "team", "carol");
  assert.deepEqual(team, {
    users: alice.users,
    groups: [{ name: "team", createdBy: "carol" }],
  });
  assert.equal(withGroup(team, "TEAM", "dave"), null);
});

Deno.test("parseSkeletonClaims reads what encodeSkeletonClaims wrote and refuses anything else with a TypeError", () => {
  const claims: SkeletonClaims = {
    users: [{ name: "alice", fingerprint: F }, {
      name: "a1ice",
      fingerprint: F,
      pending: { node: "n1", since: 1_733_400_000_000 },
    }],
    groups: [{ name: "a1ice.s", createdBy: "alice" }],
  };
  const bytes = new TextEncoder().encode(encodeSkeletonClaims(claims));
  assert.deepEqual(parseSkeletonClaims(bytes), claims);
  for (
    const bad of [
      "not json",
      "[]",
      '{"users":[]}',
      '{"users":[{"name":"alice"}],"groups":[]}',
      '{"users":[{"name":"no spaces","fingerprint":"x"}],"groups":[]}',
      '{"users":[],"groups":[{"name":"team"}]}',
      '{"users":[{"name":"alice","fingerprint":"x","pending":{"node":"n"}}],"groups":[]}',
      '{"users":[{"name":"alice","fingerprint":"x","pending":{"since":1}}],"groups":[]}',
    ]
  ) {
    assert.throws(
      () => parseSkeletonClaims(new TextEncoder().encode(bad)),
      TypeError,
      bad,
    );
  }
});
