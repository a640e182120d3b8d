import assert from "node:assert/strict";
import process from "node:process";
import {
  FilesAtOnce,
  MAX_SENDING_AT_ONCE,
  MAX_SENDING_PER_RECIPIENT,
  placeKey,
  type SendingPlace,
  SendingPlaces,
} from "../../src/client/sending_places.ts";
import { MAX_RECEIVING_PER_SENDER } from "../../src/client/receiving_share.ts";
import { DEFAULT_LIMITS } from "../../src/server/state.ts";

const never = new Promise<never>(() => {});

Deno.test("SendingPlaces holds as many files to one recipient as a receiver takes from one sender", () => {
  assert.equal(MAX_SENDING_PER_RECIPIENT, MAX_RECEIVING_PER_SENDER);
  const places = new SendingPlaces();
  for (let i = 0; i < MAX_SENDING_PER_RECIPIENT; i++) {
    assert.notEqual(places.tryTake({ to: "bob" }), null);
  }
  assert.equal(places.tryTake({ to: "bob" }), null);
  // Names as the server compares them.
  assert.equal(places.tryTake({ to: "BOB" }), null);
  // Another recipient, and a group, have places of their own.
  assert.notEqual(places.tryTake({ to: "carol" }), null);
  assert.notEqual(places.tryTake({ group: "bob" }), null);
  assert.notEqual(placeKey({ to: "bob" }), placeKey({ group: "bob" }));
});

Deno.test("SendingPlaces gives a freed place to the files waiting for that recipient in the order they asked", async () => {
  const places = new SendingPlaces(1);
  const first = places.tryTake({ to: "bob" })!;
  const order: string[] = [];
  const second = places.wait({ to: "bob" }, never).then((p) => {
    order.push("second");
    return p;
  });
  const third = places.wait({ to: "bob" }, never).then((p) => {
    order.push("third");
    return p;
  });
  // One waits: a new one does not jump the queue, even when a place frees.
  assert.equal(places.tryTake({ to: "bob" }), null);
  assert.equal(places.waiting, 2);
  first.release();
  first.release(); // again: no effect
  const given = await second;
  assert.notEqual(given, "cancelled");
  assert.deepEqual(order, ["second"]);
  (given as { release: () => void }).release();
  assert.notEqual(await third, "cancelled");
  assert.deepEqual(order, ["second", "third"]);
});

Deno.test("SendingPlaces: a file cancelled while it waits lets those behind it go", async () => {
  const places = new SendingPlaces(1);
  const first = places.tryTake({ to: "bob" })!;
  const cancel = Promise.withResolvers<void>();
  const cancelled = places.wait({ to: "bob" }, cancel.promise);
  const behind = places.wait({ to: "bob" }, never);
  cancel.resolve();
  assert.equal(await cancelled, "cancelled");
  assert.equal(places.waiting, 1);
  first.release();
  assert.notEqual(await behind, "cancelled");
  assert.equal(places.waiting, 0);
});

Deno.test("SendingPlaces: a file cancelled just before a place frees for it waits no more and passes the place on", async () => {
  const places = new SendingPlaces(1);
  const first = places.tryTake({ to: "bob" })!;
  const cancel = Promise.withResolvers<void>();
  const cancelled = places.wait({ to: "bob" }, cancel.promise);
  // /cancel, then a place frees, in the same turn of the event loop.
  cancel.resolve();
  first.release();
  // Before: it was given the place and offered though stopped.
  assert.equal(await cancelled, "cancelled");
  assert.equal(places.taken({ to: "bob" }), 0);
  assert.notEqual(places.tryTake({ to: "bob" }), null);
});

Deno.test("SendingPlaces hands out the places of thousands of held files in linear time", async () => {
  // A paste of thousands of /file lines to one friend. Before, each place
  // given back scanned every waiter and everyone before each: 4,000 held
  // took seconds of CPU to go, the terminal frozen meanwhile.
  const files = 4_000;
  const places = new SendingPlaces();
  const under = Array.from(
    { length: MAX_SENDING_PER_RECIPIENT },
    () => places.tryTake({ to: "bob" })!,
  );
  const held = Array.from(
    { length: files },
    () => places.wait({ to: "bob" }, never),
  );
  // Another recipient's file does not wait behind them.
  const carol = places.tryTake({ to: "carol" });
  assert.notEqual(carol, null);
  assert.equal(places.waiting, files);
  // CPU time, not wall time: the 2-core machine is shared.
  const start = process.cpuUsage();
  for (const place of under) place.release();
  for (const next of held) {
    const place = await next;
    if (place === "cancelled") assert.fail("a held file was cancelled");
    place.release();
  }
  const { user, system } = process.cpuUsage(start);
  assert.equal(places.waiting, 0);
  assert.equal(places.taken({ to: "bob" }), 0);
  assert.ok(
    (user + system) / 1000 < 500,
    `${(user + system) / 1000} ms of CPU`,
  );
  carol!.release();
});

Deno.test("FilesAtOnce holds as many files at once as the server lets a sender have, whoever they go to, and gives a freed place to the first waiting", async () => {
  assert.equal(MAX_SENDING_AT_ONCE, DEFAULT_LIMITS.maxTransfersPerUser);
  const atOnce = new FilesAtOnce();
  const taken: SendingPlace[] = [];
  for (let i = 0; i < MAX_SENDING_AT_ONCE; i++) {
    const place = atOnce.tryTake();
    assert.notEqual(place, null);
    taken.push(place!);
  }
  assert.equal(atOnce.tryTake(), null);
  const order: string[] = [];
  const first = atOnce.wait(never).then((p) => {
    order.push("first");
    return p;
  });
  const second = atOnce.wait(never).then((p) => {
    order.push("second");
    return p;
  });
  assert.equal(atOnce.waiting, 2);
  taken[0]!.release();
  const given = await first;
  assert.notEqual(given, "cancelled");
  assert.deepEqual(order, ["first"]);
  taken[1]!.release();
  await second;
  assert.deepEqual(order, ["first", "second"]);
  assert.equal(atOnce.taken, MAX_SENDING_AT_ONCE);
});
