import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import { TurnBatch, type TurnRun } from "../../src/server/turn_batch.ts";
import { WritePath } from "../../src/server/write_path.ts";
import type { Store } from "../../src/store/store.ts";

/**
 * A batch whose end of turn comes when the test calls `turnEnds`; with
 * `events`, the turn's transaction says when it begins and is committed.
 */
function manualBatch(store: Store, logs: string[] = [], events?: string[]) {
  const tasks: (() => void)[] = [];
  const writes = new WritePath(store, (line) => logs.push(line));
  const turnWrites = {
    commit<T>(work: () => T, failed: (error: unknown) => T): T {
      events?.push("begin");
      const result = writes.commit(work, failed);
      events?.push("committed");
      return result;
    },
  };
  const batch = new TurnBatch(turnWrites, (task) => tasks.push(task));
  return {
    batch,
    writes,
    scheduled: () => tasks.length,
    turnEnds() {
      const task = tasks.shift();
      assert.ok(task !== undefined, "no end of turn was scheduled");
      task();
    },
  };
}

/** A run that writes a user through `writes` (nested: a savepoint). */
function userRun(
  writes: WritePath,
  store: Store,
  name: string,
  events: string[],
  options: { fail?: boolean; live?: () => boolean } = {},
): TurnRun<string> {
  return {
    live: options.live ?? (() => true),
    route: () =>
      writes.commit(() => {
        store.ensureUser(name, name, 1);
        events.push(`route ${name}`);
        if (options.fail === true) throw new Error(`${name} failed`);
        return `ok ${name}`;
      }, () => `error ${name}`),
    failed: () => `error ${name}`,
    deliver: (result) => {
      // Delivered only once the turn's writes are committed: visible from
      // outside any transaction.
      events.push(
        `deliver ${result} (${
          store.getUser(name) === undefined ? "not stored" : "stored"
        })`,
      );
    },
  };
}

Deno.test("TurnBatch holds runs to the end of the turn, then routes all before delivering any, in order", async () => {
  const store = memoryStore();
  const events: string[] = [];
  const { batch, writes, scheduled, turnEnds } = manualBatch(store, [], events);
  const done = [
    batch.add(userRun(writes, store, "ana", events)),
    batch.add(userRun(writes, store, "bo", events)),
    batch.add(userRun(writes, store, "cy", events)),
  ];
  // One end of turn for all three, and nothing routed before it.
  assert.equal(scheduled(), 1);
  assert.equal(batch.pending, 3);
  assert.deepEqual(events, []);
  turnEnds();
  await Promise.all(done);
  assert.deepEqual(events, [
    "begin",
    "route ana",
    "route bo",
    "route cy",
    "committed",
    "deliver ok ana (stored)",
    "deliver ok bo (stored)",
    "deliver ok cy (stored)",
  ]);
  assert.equal(batch.pending, 0);
  assert.deepEqual(batch.sizes, [0, 0, 1]);
  store.close();
});

Deno.test("TurnBatch undoes only a failing run's writes and answers it with its fallback", async () => {
  const store = memoryStore();
  const logs: string[] = [];
  const { batch, writes, turnEnds } = manualBatch(store, logs);
  const events: string[] = [];
  const done = [
    batch.add(userRun(writes, store, "ana", events)),
    batch.add(userRun(writes, store, "bo", events, { fail: true })),
    batch.add(userRun(writes, store, "cy", events)),
  ];
  turnEnds();
  await Promise.all(done);
  assert.deepEqual(events.filter((e) => e.startsWith("deliver")), [
    "deliver ok ana (stored)",
    "deliver error bo (not stored)",
    "deliver ok cy (stored)",
  ]);
  assert.deepEqual(logs, ["store failed: bo failed"]);
  store.close();
});

Deno.test("TurnBatch answers every run with its fallback when the turn's transaction fails", async () => {
  const failing = {
    commit<T>(_work: () => T, failed: (error: unknown) => T): T {
      return failed(new Error("disk full"));
    },
  };
  const tasks: (() => void)[] = [];
  const batch = new TurnBatch(failing, (task) => tasks.push(task));
  const delivered: string[] = [];
  const run = (name: string, live = true): TurnRun<string> => ({
    live: () => live,
    route: () => assert.fail("not routed: the transaction failed"),
    failed: (error) => `${name}: ${(error as Error).message}`,
    deliver: (result) => delivered.push(result),
  });
  const done = [batch.add(run("ana")), batch.add(run("gone", false))];
  tasks.shift()!();
  await Promise.all(done);
  // The run whose connection was gone is not answered at all.
  assert.deepEqual(delivered, ["ana: disk full"]);
});

Deno.test("TurnBatch drops a run whose connection is gone, unrouted, and still lets its reader on", async () => {
  const store = memoryStore();
  const { batch, writes, turnEnds } = manualBatch(store);
  const events: string[] = [];
  const done = [
    batch.add(userRun(writes, store, "ana", events, { live: () => false })),
    batch.add(userRun(writes, store, "bo", events)),
  ];
  turnEnds();
  await Promise.all(done);
  assert.deepEqual(events, ["route bo", "deliver ok bo (stored)"]);
  assert.equal(store.getUser("ana"), undefined);
  store.close();
});

Deno.test("TurnBatch rejects only the run whose delivery threw", async () => {
  const store = memoryStore();
  const { batch, writes, turnEnds } = manualBatch(store);
  const events: string[] = [];
  const broken: TurnRun<string> = {
    ...userRun(writes, store, "ana", events),
    deliver: () => {
      throw new Error("channel broke");
    },
  };
  const first = batch.add(broken);
  const second = batch.add(userRun(writes, store, "bo", events));
  turnEnds();
  await assert.rejects(first, /channel broke/);
  await second;
  assert.deepEqual(events, ["route ana", "route bo", "deliver ok bo (stored)"]);
  store.close();
});

Deno.test("TurnBatch leaves a run added while delivering to the next turn", async () => {
  const store = memoryStore();
  const { batch, writes, scheduled, turnEnds } = manualBatch(store);
  const events: string[] = [];
  let later: Promise<void> | undefined;
  const first = batch.add({
    ...userRun(writes, store, "ana", events),
    deliver: (result) => {
      events.push(`deliver ${result}`);
      later = batch.add(userRun(writes, store, "bo", events));
    },
  });
  turnEnds();
  await first;
  assert.deepEqual(events, ["route ana", "deliver ok ana"]);
  assert.equal(scheduled(), 1);
  turnEnds();
  await later;
  assert.deepEqual(events.slice(2), ["route bo", "deliver ok bo (stored)"]);
  assert.deepEqual(batch.sizes, [2]);
  store.close();
});

Deno.test("TurnBatch routes one turn's runs for at most budgetMs and leaves the rest to the next turn", async () => {
  const store = memoryStore();
  const writes = new WritePath(store, () => {});
  const tasks: (() => void)[] = [];
  let clock = 0;
  const batch = new TurnBatch(writes, (task) => tasks.push(task), {
    budgetMs: 10,
    now: () => clock,
  });
  const events: string[] = [];
  const slow = (name: string): TurnRun<string> => {
    const run = userRun(writes, store, name, events);
    return {
      ...run,
      route: () => {
        clock += 6;
        return run.route();
      },
    };
  };
  const done = ["ana", "bo", "cy", "di"].map((name) => batch.add(slow(name)));
  assert.equal(tasks.length, 1);
  tasks.shift()!();
  // 0 ms: ana; 6 ms: bo; 12 ms: past the budget, the rest waits.
  await Promise.all(done.slice(0, 2));
  assert.deepEqual(events, [
    "route ana",
    "route bo",
    "deliver ok ana (stored)",
    "deliver ok bo (stored)",
  ]);
  assert.equal(batch.pending, 2);
  assert.equal(tasks.length, 1, "the next turn is scheduled");
  tasks.shift()!();
  await Promise.all(done);
  assert.deepEqual(events.slice(4), [
    "route cy",
    "route di",
    "deliver ok cy (stored)",
    "deliver ok di (stored)",
  ]);
  assert.deepEqual(batch.sizes, [0, 2]);
  store.close();
});
