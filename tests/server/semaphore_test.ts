import assert from "node:assert/strict";
import { Semaphore } from "../../src/server/semaphore.ts";

Deno.test("Semaphore runs at most its slots at once, the rest in arrival order", async () => {
  const semaphore = new Semaphore(2);
  const releases: (() => void)[] = [];
  const started: number[] = [];
  const tasks = [0, 1, 2, 3].map((i) =>
    semaphore.run(async () => {
      started.push(i);
      await new Promise<void>((resolve) => releases[i] = resolve);
      return i;
    })
  );
  await Promise.resolve();
  assert.deepEqual(started, [0, 1]);
  assert.equal(semaphore.running, 2);
  assert.equal(semaphore.waiting, 2);
  releases[1]!();
  assert.equal(await tasks[1], 1);
  assert.deepEqual(started, [0, 1, 2]);
  releases[0]!();
  releases[2]!();
  await tasks[2];
  assert.deepEqual(started, [0, 1, 2, 3]);
  releases[3]!();
  assert.deepEqual(await Promise.all(tasks), [0, 1, 2, 3]);
  assert.equal(semaphore.running, 0);
});

Deno.test("Semaphore frees the slot of a task that throws", async () => {
  const semaphore = new Semaphore(1);
  await assert.rejects(
    semaphore.run(() => Promise.reject(new Error("boom"))),
    /boom/,
  );
  assert.equal(semaphore.running, 0);
  assert.equal(await semaphore.run(() => Promise.resolve(7)), 7);
});

Deno.test("Semaphore refuses fewer than one slot", () => {
  assert.throws(() => new Semaphore(0), RangeError);
});
