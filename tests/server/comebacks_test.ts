import assert from "node:assert/strict";
import { Comebacks, MAX_QUICK_COMEBACKS } from "../../src/server/comebacks.ts";

const TIMES = { settledMs: 30_000, withinMs: 120_000 };
/** A server started long before (no restart to come back from). */
const STARTED = -1_000_000;

/**
 * Takes a comeback for each name that may have one (all proving key "k");
 * the names that did.
 */
function comeBack(
  comebacks: Comebacks,
  group: string,
  names: string[],
  now: number,
): string[] {
  return names.filter((name) => {
    if (!comebacks.may(group, name, "k", now)) return false;
    comebacks.signedIn(group, name, now, true);
    return true;
  });
}

Deno.test("Comebacks lets a name back once per session of it that lasted and ended a moment ago", () => {
  const comebacks = new Comebacks(64, TIMES, STARTED);
  // Never signed in here: nothing owed.
  assert.deepEqual(comeBack(comebacks, "a", ["sophia"], 0), []);
  // Signed in at 0, dropped at 40 s: back at once, and only once.
  comebacks.ended("a", "sophia", "k", 0, 40_000);
  assert.deepEqual(comeBack(comebacks, "a", ["sophia"], 41_000), ["sophia"]);
  assert.deepEqual(comeBack(comebacks, "a", ["sophia"], 42_000), []);
  // The Wi-Fi drops again 30 s later, and again: back each time.
  comebacks.ended("a", "sophia", "k", 41_000, 71_000);
  assert.deepEqual(comeBack(comebacks, "a", ["sophia"], 71_500), ["sophia"]);
  comebacks.ended("a", "sophia", "k", 71_500, 101_500);
  assert.deepEqual(comeBack(comebacks, "a", ["sophia"], 102_000), ["sophia"]);
  // Not from another address, nor with another key.
  comebacks.ended("a", "sophia", "k", 102_000, 140_000);
  assert.deepEqual(comeBack(comebacks, "b", ["sophia"], 141_000), []);
  assert.equal(comebacks.may("a", "sophia", "other", 141_000), false);
  // Nor after two minutes.
  assert.deepEqual(comeBack(comebacks, "a", ["sophia"], 260_001), []);
});

Deno.test("Comebacks owes nothing for a session shorter than settledMs: a loop of one name pays", () => {
  const comebacks = new Comebacks(64, TIMES, STARTED);
  comebacks.ended("a", "mallory", "k", 0, 29_999);
  assert.deepEqual(comeBack(comebacks, "a", ["mallory"], 30_000), []);
  // Short sessions after a long one (Wi-Fi dropping again and again): the
  // long one's end is spent by the sign-in that followed it, however it was
  // paid, and each short one owes the next, MAX_QUICK_COMEBACKS in a row.
  comebacks.ended("a", "mallory", "k", 30_000, 70_000);
  let now = 70_001;
  comebacks.signedIn("a", "mallory", now, false);
  for (let i = 0; i < MAX_QUICK_COMEBACKS; i++) {
    comebacks.ended("a", "mallory", "k", now, now + 999);
    now += 1000;
    assert.deepEqual(comeBack(comebacks, "a", ["mallory"], now), ["mallory"]);
  }
  comebacks.ended("a", "mallory", "k", now, now + 999);
  assert.deepEqual(comeBack(comebacks, "a", ["mallory"], now + 1000), []);
});

Deno.test("Comebacks counts a session still signed in from the address as ending now", () => {
  const comebacks = new Comebacks(64, TIMES, STARTED);
  const live = (since: number, fingerprint: string | null = "k") => ({
    live: { since, fingerprint },
  });
  assert.equal(comebacks.may("a", "sophia", "k", 40_000, live(0)), true);
  assert.equal(comebacks.may("a", "sophia", "k", 20_000, live(0)), false);
  assert.equal(comebacks.may("a", "sophia", "k", 40_000, live(0, "x")), false);
});

Deno.test("Comebacks after a restart lets back the names last seen as it stopped, once", () => {
  const started = 1_000_000;
  const comebacks = new Comebacks(64, TIMES, started);
  const seen = (lastSeen: number | null) => ({ lastSeen });
  const now = started + 5_000;
  assert.equal(comebacks.may("a", "ann", "k", now, seen(started - 1)), true);
  // Seen long before the stop, or since the start (signed in here: its own
  // end is what it owes), or never.
  assert.equal(
    comebacks.may("a", "ann", "k", now, seen(started - 120_001)),
    false,
  );
  assert.equal(comebacks.may("a", "ann", "k", now, seen(started + 1)), false);
  assert.equal(comebacks.may("a", "ann", "k", now, seen(null)), false);
  // Nor two minutes after the start.
  assert.equal(
    comebacks.may("a", "ann", "k", started + 120_001, seen(started - 1)),
    false,
  );
});

Deno.test("Comebacks lets as many names of an address back at once as it may hold connections, then as many a minute", () => {
  const comebacks = new Comebacks(3, TIMES, STARTED);
  const names = ["a1", "a2", "a3", "a4"];
  for (const name of names) comebacks.ended("a", name, "k", 0, 30_000);
  assert.deepEqual(comeBack(comebacks, "a", names, 30_000), ["a1", "a2", "a3"]);
  // A third of a minute later, one more (and only one name is left).
  assert.deepEqual(comeBack(comebacks, "a", names, 50_000), ["a4"]);
});

Deno.test("Comebacks with no connection limit per address lets none back free", () => {
  const comebacks = new Comebacks(0, TIMES, STARTED);
  comebacks.ended("a", "sophia", "k", 0, 40_000);
  assert.deepEqual(comeBack(comebacks, "a", ["sophia"], 41_000), []);
});

Deno.test("Comebacks lets a name back from drops in quick succession after a settled session, MAX_QUICK_COMEBACKS in a row, then it pays", () => {
  const comebacks = new Comebacks(64, TIMES, STARTED);
  comebacks.signedIn("a", "ann", 0, false);
  comebacks.ended("a", "ann", "k", 0, 40_000);
  let now = 40_000;
  assert.deepEqual(comeBack(comebacks, "a", ["ann"], now), ["ann"]);
  // Flaky Wi-Fi: dropped again every 2 s, far under settledMs.
  for (let i = 0; i < MAX_QUICK_COMEBACKS; i++) {
    comebacks.ended("a", "ann", "k", now, now + 2000);
    now += 2000;
    assert.deepEqual(comeBack(comebacks, "a", ["ann"], now), ["ann"], `${i}`);
  }
  comebacks.ended("a", "ann", "k", now, now + 2000);
  assert.equal(comebacks.may("a", "ann", "k", now + 2000), false);
});

Deno.test("Comebacks lets a name back over its own session still open from a quick comeback (a drop not noticed yet)", () => {
  const comebacks = new Comebacks(64, TIMES, STARTED);
  comebacks.ended("a", "ann", "k", 0, 40_000);
  assert.deepEqual(comeBack(comebacks, "a", ["ann"], 40_000), ["ann"]);
  const live = { live: { fingerprint: "k", since: 40_000 } };
  assert.equal(comebacks.may("a", "ann", "k", 42_000, live), true);
  // A name never settled owes nothing, live or not.
  comebacks.signedIn("a", "bob", 40_000, false);
  const bob = { live: { fingerprint: "k", since: 40_000 } };
  assert.equal(comebacks.may("a", "bob", "k", 42_000, bob), false);
});
