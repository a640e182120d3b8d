import assert from "node:assert/strict";
import {
  AnswersInOrder,
  MAX_WAITING_ANSWERS,
} from "../../src/server/answers_in_order.ts";

/** A log applied as far as `advance` says, and the waits it was asked for. */
function heldLog() {
  const waits: { seq: number; resolve: () => void; reject: () => void }[] = [];
  const log = {
    position: 0,
    applied(seq: number): Promise<void> {
      if (seq <= log.position) return Promise.resolve();
      return new Promise<void>((resolve, reject) =>
        waits.push({ seq, resolve, reject: () => reject(new Error("late")) })
      );
    },
    advance(seq: number) {
      log.position = seq;
      for (const wait of waits.filter((one) => one.seq <= seq)) wait.resolve();
    },
  };
  return { log, waits };
}

Deno.test("AnswersInOrder carries an answer out at once when the log is that far and none waits", () => {
  const { log } = heldLog();
  log.position = 7;
  const done: string[] = [];
  new AnswersInOrder(log, 1000, () => {}).add(7, () => done.push("accept"));
  assert.deepEqual(done, ["accept"]);
});

Deno.test("AnswersInOrder holds an answer until the log is applied to its position, and later ones behind it", async () => {
  const { log } = heldLog();
  log.position = 3;
  const done: string[] = [];
  const answers = new AnswersInOrder(log, 1000, () => {});
  answers.add(5, () => done.push("accept"));
  // Already applied, but not before the one that waits.
  let last!: () => void;
  const both = new Promise<void>((resolve) => last = resolve);
  answers.add(0, () => {
    done.push("ack");
    last();
  });
  await Promise.resolve();
  assert.deepEqual(done, []);
  log.advance(5);
  await both;
  assert.deepEqual(done, ["accept", "ack"]);
});

Deno.test("AnswersInOrder carries an answer out, said in its line, when the log does not get there", async () => {
  const { log, waits } = heldLog();
  const lines: string[] = [];
  let done!: () => void;
  const carried = new Promise<void>((resolve) => done = resolve);
  new AnswersInOrder(log, 1000, (line) => lines.push(line)).add(9, done);
  await Promise.resolve();
  waits[0]!.reject();
  await carried;
  assert.deepEqual(lines, [
    "cluster: a file answer is carried out before the log it follows: late",
  ]);
});

Deno.test("AnswersInOrder keeps at most MAX_WAITING_ANSWERS waiting: past it an answer goes at once", () => {
  const { log } = heldLog();
  const answers = new AnswersInOrder(log, 1000, () => {});
  let carried = 0;
  for (let i = 0; i < MAX_WAITING_ANSWERS; i++) {
    answers.add(1_000_000, () => carried++);
  }
  assert.equal(carried, 0);
  answers.add(1_000_000, () => carried++);
  assert.equal(carried, 1);
});

Deno.test("AnswersInOrder holds each answer at most its wait from when it came: answers behind one the log never reaches do not wait in turn", async () => {
  // A log that is never applied further (a node whose log reading stalled,
  // or a hostile node naming a position far ahead): each wait times out.
  const log = {
    position: 0,
    applied(_seq: number, timeoutMs: number): Promise<void> {
      return new Promise((_, reject) =>
        setTimeout(() => reject(new Error("late")), timeoutMs)
      );
    },
  };
  const waitMs = 200;
  const count = 10;
  const answers = new AnswersInOrder(log, waitMs, () => {});
  const start = performance.now();
  const carried: number[] = [];
  let all!: () => void;
  const done = new Promise<void>((resolve) => all = resolve);
  for (let i = 0; i < count; i++) {
    answers.add(Number.MAX_SAFE_INTEGER, () => {
      carried.push(i);
      if (carried.length === count) all();
    });
  }
  await done;
  const took = performance.now() - start;
  // Still in the order they came.
  assert.deepEqual(carried, [...Array(count).keys()]);
  // One wait, not ten in a row (2000 ms).
  assert.ok(took < waitMs * 4, `the last answer waited ${Math.round(took)} ms`);
});
