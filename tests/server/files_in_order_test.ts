import assert from "node:assert/strict";
import {
  FilesInOrder,
  MAX_WAITING_FILE_BYTES,
  MAX_WAITING_FILE_EVENTS,
} from "../../src/server/files_in_order.ts";

/** A log applied as far as `advance` says, and the waits it was asked for. */
function heldLog() {
  const waits: { seq: number; resolve: () => void }[] = [];
  const log = {
    position: 0,
    /** As ClusterLog's: rejects once `timeoutMs` passed without the log. */
    applied(seq: number, timeoutMs: number): Promise<void> {
      if (seq <= log.position) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("late")), timeoutMs);
        waits.push({
          seq,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    advance(seq: number) {
      log.position = seq;
      for (const wait of waits.filter((one) => one.seq <= seq)) wait.resolve();
    },
  };
  return { log, waits };
}

/** Resolves once `done` holds `count` entries. */
async function settled(done: string[], count: number): Promise<void> {
  while (done.length < count) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

Deno.test("FilesInOrder passes an offer on at once when the log is that far, and a transfer's chunks at once when nothing of it waits", () => {
  const { log } = heldLog();
  log.position = 7;
  const done: string[] = [];
  const files = new FilesInOrder(log, 1000, () => {});
  files.add("n1 5 bob", 7, 0, () => done.push("offer"));
  // A transfer under way while the log is ahead of the position: no wait.
  files.add("n1 5 bob", 0, 100, () => done.push("chunk 0"));
  files.add("n1 5 bob", 0, 100, () => done.push("chunk 100"));
  assert.deepEqual(done, ["offer", "chunk 0", "chunk 100"]);
  assert.equal(files.waiting, 0);
});

Deno.test("FilesInOrder holds an offer until the log is applied to its position, and its transfer's chunks behind it, not other transfers", async () => {
  const { log } = heldLog();
  log.position = 3;
  const done: string[] = [];
  const files = new FilesInOrder(log, 1000, () => {});
  files.add("n1 5 bob", 5, 0, () => done.push("offer 5"));
  files.add("n1 5 bob", 0, 100, () => done.push("chunk of 5"));
  files.add("n1 6 bob", 0, 100, () => done.push("chunk of 6"));
  await Promise.resolve();
  assert.deepEqual(done, ["chunk of 6"]);
  assert.equal(files.waiting, 2);
  log.advance(5);
  await settled(done, 3);
  assert.deepEqual(done, ["chunk of 6", "offer 5", "chunk of 5"]);
  assert.equal(files.waiting, 0);
  // Nothing of 5 waits any more: its next chunk goes at once.
  files.add("n1 5 bob", 0, 100, () => done.push("next chunk of 5"));
  assert.deepEqual(done.at(-1), "next chunk of 5");
});

Deno.test("FilesInOrder passes events on, said in a line each, when the log does not get there, each at most its wait after it came", async () => {
  const { log } = heldLog();
  const lines: string[] = [];
  const done: string[] = [];
  const files = new FilesInOrder(log, 100, (line) => lines.push(line));
  const started = Date.now();
  for (let i = 0; i < 10; i++) {
    files.add("n1 5 bob", 1_000_000 + i, 0, () => done.push(`cancel ${i}`));
  }
  await settled(done, 10);
  const took = Date.now() - started;
  assert.deepEqual(done, [...Array(10).keys()].map((i) => `cancel ${i}`));
  assert.equal(lines.length, 10);
  assert.match(lines[0]!, /passed on before the log it follows: late/);
  // Waits one after the other would take 10 x 100 ms.
  assert.ok(took < 900, `took ${took} ms`);
});

Deno.test("FilesInOrder passes on at once past the bytes it may hold, not holding a node's chunks without bound", () => {
  const { log } = heldLog();
  const done: string[] = [];
  const files = new FilesInOrder(log, 1000, () => {});
  files.add("n1 5 bob", 9, 0, () => done.push("offer"));
  files.add("n1 5 bob", 0, MAX_WAITING_FILE_BYTES, () => done.push("chunk"));
  files.add("n1 5 bob", 0, 1, () => done.push("over"));
  assert.deepEqual(done, ["over"]);
  assert.equal(files.waiting, 2);
});

Deno.test("FilesInOrder drops an offer still waiting when its cancel goes past it beyond the bounds, and passes the cancel on at once", async () => {
  const { log } = heldLog();
  const done: string[] = [];
  const files = new FilesInOrder(log, 1000, () => {});
  files.add("n1 5 bob", 9, 0, () => done.push("offer 5"));
  // Other transfers' offers fill what may wait.
  for (let i = 1; i < MAX_WAITING_FILE_EVENTS; i++) {
    files.add(`n1 ${100 + i} bob`, 9, 0, () => done.push("other"));
  }
  assert.equal(files.waiting, MAX_WAITING_FILE_EVENTS);
  files.add("n1 5 bob", 9, 0, () => done.push("cancel 5"), true);
  assert.deepEqual(done, ["cancel 5"]);
  log.advance(9);
  await settled(done, MAX_WAITING_FILE_EVENTS);
  // The offer taken back is never shown; the others go on.
  assert.equal(done.filter((one) => one === "offer 5").length, 0);
  assert.equal(done.filter((one) => one === "other").length, 4095);
  assert.equal(files.waiting, 0);
  // A later transfer of the same number goes as usual.
  files.add("n1 5 bob", 9, 0, () => done.push("offer 5 again"));
  assert.equal(done.at(-1), "offer 5 again");
});
