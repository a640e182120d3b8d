import assert from "node:assert/strict";
import {
  CAP_TARGET,
  capCheckDue,
  fullNotice,
  givingUpNotice,
  nextPruneStep,
  nextSweep,
  type PruneState,
} from "../../src/store/prune_policy.ts";

const MIB = 1024 * 1024;

/** Over the cap, at a check's first batch, with everything still to try. */
function state(changes: Partial<PruneState> = {}): PruneState {
  return {
    used: 11 * MIB,
    maxBytes: 10 * MIB,
    batch: 0,
    batches: 32,
    outOfTime: false,
    publicExhausted: false,
    scanAll: false,
    queued: 0,
    givenUpAll: false,
    ...changes,
  };
}

Deno.test("nextPruneStep tries public messages, then a sweep, then the candidates, then giving up, in that order", () => {
  assert.deepEqual(nextPruneStep(state({ scanAll: true, queued: 5 })), {
    kind: "public",
  });
  assert.deepEqual(
    nextPruneStep(state({ publicExhausted: true, scanAll: true, queued: 5 })),
    { kind: "sweep" },
  );
  assert.deepEqual(
    nextPruneStep(state({ publicExhausted: true, queued: 5 })),
    { kind: "candidates" },
  );
  assert.deepEqual(nextPruneStep(state({ publicExhausted: true })), {
    kind: "give_up",
  });
  assert.deepEqual(
    nextPruneStep(state({ publicExhausted: true, givenUpAll: true })),
    { kind: "stop", reason: "nothing_deletable" },
  );
});

Deno.test("nextPruneStep stops once under the target, not at the cap itself", () => {
  const maxBytes = 10 * MIB;
  assert.deepEqual(
    nextPruneStep(state({ used: maxBytes * CAP_TARGET, maxBytes })),
    { kind: "stop", reason: "done" },
  );
  // Under the cap but above the target: pruning goes on.
  assert.deepEqual(
    nextPruneStep(state({ used: maxBytes * 0.95, maxBytes })),
    { kind: "public" },
  );
});

Deno.test("nextPruneStep gives up messages still owed only past the cap itself", () => {
  const maxBytes = 10 * MIB;
  // Between the target and the cap, with only owed messages left: nothing
  // is lost for the target alone.
  assert.deepEqual(
    nextPruneStep(
      state({ used: maxBytes * 0.95, maxBytes, publicExhausted: true }),
    ),
    { kind: "stop", reason: "nothing_deletable" },
  );
  assert.deepEqual(
    nextPruneStep(
      state({ used: maxBytes + 1, maxBytes, publicExhausted: true }),
    ),
    { kind: "give_up" },
  );
});

Deno.test("nextPruneStep leaves the rest for the next check when out of batches or time", () => {
  assert.deepEqual(nextPruneStep(state({ batch: 32, batches: 32 })), {
    kind: "stop",
    reason: "later",
  });
  assert.deepEqual(nextPruneStep(state({ outOfTime: true, queued: 3 })), {
    kind: "stop",
    reason: "later",
  });
  // Under the target wins: the check is done, not postponed.
  assert.deepEqual(
    nextPruneStep(state({ used: 0, outOfTime: true })),
    { kind: "stop", reason: "done" },
  );
});

Deno.test("nextSweep resumes after the last id found when a window held a full batch", () => {
  assert.deepEqual(nextSweep(100, 8292, [101, 150, 170], 3, 50_000), {
    scanAll: true,
    scanAfter: 170,
  });
});

Deno.test("nextSweep moves to the next window when one held less than a batch", () => {
  assert.deepEqual(nextSweep(0, 8192, [5], 256, 20_000), {
    scanAll: true,
    scanAfter: 8192,
  });
  assert.deepEqual(nextSweep(8192, 16_384, [], 256, 20_000), {
    scanAll: true,
    scanAfter: 16_384,
  });
});

Deno.test("nextSweep ends the sweep once a window reaches the last message id", () => {
  assert.deepEqual(nextSweep(16_384, 24_576, [20_000], 256, 20_000), {
    scanAll: false,
    scanAfter: 0,
  });
  assert.deepEqual(nextSweep(0, 8192, [], 256, 8192), {
    scanAll: false,
    scanAfter: 0,
  });
});

Deno.test("capCheckDue reads the size every so many commits, or after so long", () => {
  assert.equal(capCheckDue(255, 256, 10, 1000), false);
  assert.equal(capCheckDue(256, 256, 10, 1000), true);
  assert.equal(capCheckDue(1, 256, 1000, 1000), true);
  assert.equal(capCheckDue(1, 256, 999, 1000), false);
});

Deno.test("fullNotice says the store is full with its size and cap in MiB, and when room is back", () => {
  assert.equal(
    fullNotice(true, 10.5 * MIB, 10 * MIB),
    "The store is full (10.5 MiB in use, its cap is 10.0 MiB) with what it cannot delete (accounts, groups, keys): new messages are refused until the cap is raised (--max-store-mb)",
  );
  assert.equal(
    fullNotice(false, 8 * MIB, 10 * MIB),
    "The store has room again (8.0 MiB in use): new messages are accepted",
  );
});

Deno.test("givingUpNotice names how many users lose messages and who is owed the most", () => {
  assert.equal(
    givingUpNotice(11 * MIB, 10 * MIB, 3, {
      userKey: "mallory",
      bytes: 6.25 * MIB,
    }),
    "The store is at its cap (11.0 MiB in use, its cap is 10.0 MiB) and holds only messages still owed: giving up the oldest waiting for the 3 user(s) owed the most (mallory: 6.3 MiB waiting), who are told when they sign in; raise --max-store-mb to keep more",
  );
});
