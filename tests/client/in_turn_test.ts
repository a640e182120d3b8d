import assert from "node:assert/strict";
import { InTurn, laneNameOf, laneOf } from "../../src/client/in_turn.ts";

const never = () => {
  throw new Error("unexpected error");
};

Deno.test("InTurn runs lines of every lane in the order they came while no place is held", async () => {
  const order = new InTurn(never);
  const seen: string[] = [];
  const slow = Promise.withResolvers<void>();
  void order.run(async () => {
    await slow.promise;
    seen.push("a1");
  }, "a");
  void order.run(() => void seen.push("b1"), "b");
  void order.run(() => void seen.push("a2"), "a");
  slow.resolve();
  await order.settled;
  assert.deepEqual(seen, ["a1", "b1", "a2"]);
});

Deno.test("InTurn.hold holds back only its own lane's lines: others' go on at once, its sender's keep their order behind it", async () => {
  const order = new InTurn(never);
  const seen: string[] = [];
  void order.run(() => void seen.push("m0"), "mallory");
  const place = order.hold(60_000, "mallory");
  const m1 = order.run(() => void seen.push("m1"), "mallory");
  const c1 = order.run(() => void seen.push("c1"), "carol");
  const m2 = order.run(() => void seen.push("m2"), "mallory");
  const c2 = order.run(() => void seen.push("c2"), "carol");
  await Promise.all([c1, c2, place.ready]);
  assert.deepEqual(seen, ["m0", "c1", "c2"]);
  assert.equal(place.held, true);
  place.release();
  await Promise.all([m1, m2, order.settled]);
  assert.deepEqual(seen, ["m0", "c1", "c2", "m1", "m2"]);
});

Deno.test("InTurn.settled waits for places held; settledIn only for its lane's", async () => {
  const order = new InTurn(never);
  const place = order.hold(60_000, "mallory");
  await order.settledIn("carol");
  let settled = false;
  const all = order.settled.then(() => settled = true);
  await order.run(() => {}, "carol");
  assert.equal(settled, false);
  place.release();
  await all;
  await order.settledIn("mallory");
});

Deno.test("InTurn tells of a line that failed and goes on, in its lane too", async () => {
  const errors: unknown[] = [];
  const order = new InTurn((error) => errors.push(error));
  const seen: string[] = [];
  void order.run(() => {
    throw new Error("boom");
  }, "a");
  await order.run(() => void seen.push("a2"), "a");
  assert.deepEqual(seen, ["a2"]);
  assert.equal(errors.length, 1);
});

Deno.test("laneOf compares names as the server does; no sender is a lane of its own", () => {
  assert.equal(laneOf("Mallory"), laneOf("mallory"));
  assert.notEqual(laneOf("mallory"), laneOf("carol"));
  assert.equal(laneOf(undefined), "");
});

Deno.test("laneOf puts what answers a history request in one lane of its own, never held by a sender's place", async () => {
  assert.equal(laneOf("mallory", true), laneOf("carol", true));
  assert.notEqual(laneOf("mallory", true), laneOf("mallory"));
  const order = new InTurn(never);
  const seen: string[] = [];
  // Mallory's offer holds her lane; the history answer's lines still run
  // in the order they came.
  const place = order.hold(60_000, laneOf("mallory"));
  void order.run(() => void seen.push("mallory-old"), laneOf("mallory", true));
  const answered = order.run(
    () => void seen.push("carol-new"),
    laneOf("carol", true),
  );
  await answered;
  assert.deepEqual(seen, ["mallory-old", "carol-new"]);
  // A sender key of mallory's in that answer is kept before her group
  // message waits: settledFrom covers the history lane too.
  let keyed = false;
  const key = Promise.withResolvers<void>();
  void order.run(async () => {
    await key.promise;
    keyed = true;
  }, laneOf("mallory", true));
  place.release();
  const before = order.settledFrom("mallory");
  key.resolve();
  await before;
  assert.ok(keyed);
});

Deno.test("laneNameOf puts the notice that someone came, left, joined or left a group in their lane", () => {
  assert.equal(
    laneNameOf({ t: "membership", group: "g", name: "Mallory", joined: false }),
    "Mallory",
  );
  assert.equal(
    laneNameOf({ t: "presence", name: "mallory", online: false }),
    "mallory",
  );
  assert.equal(laneNameOf({ t: "pong", re: 1 }), undefined);
});
