import assert from "node:assert/strict";
import {
  type ByteSink,
  STDOUT_BACKLOG_BYTES,
  STDOUT_BACKLOG_LINES,
  StdoutQueue,
} from "../../src/client/stdout_queue.ts";

/** A sink whose reader takes bytes only when the test lets it. */
function stalledReader() {
  const taken: Uint8Array[] = [];
  let waiting: (() => void)[] = [];
  let open = false;
  let broken: Error | null = null;
  const sink: ByteSink = {
    async write(bytes) {
      while (!open && broken === null) {
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
      if (broken !== null) throw broken;
      taken.push(bytes.slice());
      return bytes.byteLength;
    },
  };
  const wake = () => {
    const woken = waiting;
    waiting = [];
    for (const resolve of woken) resolve();
  };
  return {
    sink,
    /** What was written so far, as text. */
    text: () => taken.map((b) => new TextDecoder().decode(b)).join(""),
    read() {
      open = true;
      wake();
    },
    close(error: Error) {
      broken = error;
      wake();
    },
  };
}

Deno.test("StdoutQueue queues lines without waiting for the reader and writes them in order once it reads", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink, 1024 * 1024);
  for (let n = 0; n < 1000; n++) queue.write(`{"n":${n}}`);
  assert.equal(reader.text(), "");
  assert.ok(queue.queuedBytes > 0);
  reader.read();
  await queue.flushed();
  const lines = reader.text().split("\n");
  assert.equal(lines.pop(), "");
  assert.deepEqual(
    lines,
    Array.from({ length: 1000 }, (_, n) => `{"n":${n}}`),
  );
  assert.equal(queue.queuedBytes, 0);
});

Deno.test("StdoutQueue says the reader is behind past its bound, and caught up once half of it is written", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink, 1000);
  const changes: boolean[] = [];
  queue.onBehind((behind) => changes.push(behind));
  const line = "x".repeat(99); // 100 bytes with its newline
  for (let n = 0; n < 10; n++) queue.write(line);
  assert.equal(queue.behind, false, "at the bound, not past it");
  assert.equal(queue.caughtUp(), null);
  queue.write(line);
  assert.equal(queue.behind, true);
  assert.deepEqual(changes, [true]);
  const caughtUp = queue.caughtUp();
  assert.ok(caughtUp !== null);
  reader.read();
  await caughtUp;
  assert.ok(queue.queuedBytes <= 500, `${queue.queuedBytes} left`);
  assert.deepEqual(changes, [true, false]);
  await queue.flushed();
  assert.equal(reader.text(), `${line}\n`.repeat(11));
});

Deno.test("StdoutQueue drops what waits once stdout cannot be written, and lets those waiting for the reader go", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink, 100);
  const changes: boolean[] = [];
  queue.onBehind((behind) => changes.push(behind));
  queue.write("x".repeat(200));
  const caughtUp = queue.caughtUp();
  assert.ok(caughtUp !== null);
  const flushed = queue.flushed();
  reader.close(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
  const error = await queue.gone;
  assert.ok(error instanceof Deno.errors.BrokenPipe);
  await caughtUp;
  await flushed;
  assert.equal(queue.queuedBytes, 0);
  assert.deepEqual(changes, [true], "gone, not caught up");
  queue.write("after");
  assert.equal(queue.queuedBytes, 0, "nothing is kept for a reader gone");
  await queue.flushed();
});

Deno.test("StdoutQueue.written resolves once the lines queued before it are written, while later ones may still wait", async () => {
  const chunks: Uint8Array[] = [];
  const gate = { open: Promise.withResolvers<void>() };
  const queue = new StdoutQueue({
    async write(bytes) {
      await gate.open.promise;
      chunks.push(bytes.slice());
      return bytes.byteLength;
    },
  }, 1024 * 1024);
  queue.write("one");
  const first = queue.written();
  let firstDone = false;
  void first.then(() => (firstDone = true));
  queue.write("two");
  const second = queue.written();
  await Promise.resolve();
  assert.equal(firstDone, false, "resolved before anything was written");
  gate.open.resolve();
  await first;
  await second;
  assert.equal(
    new TextDecoder().decode(
      chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
    ),
    "one\ntwo\n",
  );
  // Nothing queued: at once.
  await queue.written();
});

Deno.test("StdoutQueue.written never resolves for lines that could not be written (they are never acknowledged)", async () => {
  const queue = new StdoutQueue({
    write() {
      return Promise.reject(new Deno.errors.BrokenPipe("gone"));
    },
  });
  queue.write("lost");
  const written = queue.written();
  let resolved = false;
  void written.then(() => (resolved = true));
  await queue.gone;
  await Promise.resolve();
  assert.equal(resolved, false);
});

Deno.test("StdoutQueue.finalFlush gives up once nothing is read for stallMs, and counts what was not written", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink, 1024 * 1024);
  for (let n = 0; n < 3; n++) queue.write(`line ${n}`);
  const unwritten = await queue.finalFlush(50);
  assert.deepEqual(unwritten, { lines: 3, bytes: 21, gone: false });
  assert.equal(reader.text(), "");
});

Deno.test("StdoutQueue.finalFlush waits past stallMs for a reader that keeps reading, until all is written", async () => {
  // Takes one byte per write, a few ms apart: 60 lines take far longer
  // than the stall allowed, but something is read in every stretch of it.
  const taken: Uint8Array[] = [];
  const queue = new StdoutQueue({
    async write(bytes) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      taken.push(bytes.slice(0, 1));
      return 1;
    },
  }, 1024 * 1024);
  const lines = Array.from({ length: 60 }, (_, n) => `l${n}`);
  for (const line of lines) queue.write(line);
  const unwritten = await queue.finalFlush(100);
  assert.deepEqual(unwritten, { lines: 0, bytes: 0, gone: false });
  const text = new TextDecoder().decode(
    new Uint8Array(taken.flatMap((b) => [...b])),
  );
  assert.equal(text, lines.map((l) => l + "\n").join(""));
});

Deno.test("StdoutQueue.finalFlush resolves at once when all is written, and says gone when stdout could not be written", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink, 1024 * 1024);
  assert.deepEqual(await queue.finalFlush(60_000), {
    lines: 0,
    bytes: 0,
    gone: false,
  });
  queue.write("lost");
  reader.close(new Error("Broken pipe"));
  assert.deepEqual(await queue.finalFlush(60_000), {
    lines: 1,
    bytes: 5,
    gone: true,
  });
});

Deno.test("StdoutQueue says the reader is behind past STDOUT_BACKLOG_LINES lines, however short, and caught up at half of them", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink);
  const changes: boolean[] = [];
  queue.onBehind((behind) => changes.push(behind));
  // A host's "hi" lines: far below the bound in bytes. (The first is
  // taken for writing at once.)
  for (let n = 0; n <= STDOUT_BACKLOG_LINES + 1; n++) queue.write(`hi ${n}`);
  assert.ok(queue.queuedBytes < STDOUT_BACKLOG_BYTES / 100);
  assert.equal(queue.behind, true);
  assert.deepEqual(changes, [true]);
  const caughtUp = queue.caughtUp();
  assert.ok(caughtUp !== null);
  reader.read();
  await caughtUp;
  assert.ok(queue.queuedLines <= STDOUT_BACKLOG_LINES / 2);
  await queue.flushed();
  assert.deepEqual(changes, [true, false]);
});

Deno.test("StdoutQueue.writeText queues a terminal's drawing as it is, in order with lines, each call counted toward the bound", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink, 1024 * 1024, undefined, {
    highLines: 4,
  });
  assert.equal(queue.idle, true);
  queue.writeText("\x1b[2K\rbob> ");
  queue.write("line 1");
  queue.writeText("");
  queue.writeText("\x1b[2K\rline 2\nbob> hi");
  assert.equal(queue.idle, false);
  assert.equal(queue.behind, false);
  queue.writeText("\x1b[2K\r");
  queue.writeText("bob> ");
  // The first was taken for writing at once: four wait, at the bound.
  assert.equal(queue.behind, false);
  queue.writeText("x");
  assert.equal(queue.behind, true);
  reader.read();
  await queue.flushed();
  assert.equal(
    reader.text(),
    "\x1b[2K\rbob> line 1\n\x1b[2K\rline 2\nbob> hi\x1b[2K\rbob> x",
  );
  assert.equal(queue.idle, true);
  assert.equal(queue.behind, false);
});

Deno.test("StdoutQueue.replaceRedraw keeps one redraw waiting for a stalled reader, not one per key typed: the bound in lines is not reached", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink, 1024 * 1024, undefined, {
    highLines: 10,
  });
  // Taken for writing at once, and waiting there.
  queue.write("first");
  queue.write("line");
  queue.writeRedraw("r0");
  for (let n = 1; n <= 1000; n++) {
    assert.equal(queue.replaceRedraw(`r${n}`), true);
  }
  assert.equal(queue.queuedLines, 2);
  assert.equal(queue.behind, false);
  // Queued or being written.
  assert.equal(queue.queuedBytes, "first\nline\nr1000".length);
  reader.read();
  await queue.flushed();
  assert.equal(reader.text(), "first\nline\nr1000");
});

Deno.test("StdoutQueue.replaceRedraw replaces no redraw that output came after, nor one taken for writing", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink);
  // Nothing queued: taken for writing at once.
  queue.writeRedraw("r0");
  assert.equal(queue.replaceRedraw("r1"), false);
  queue.writeRedraw("r2");
  queue.write("said");
  assert.equal(queue.replaceRedraw("r3"), false);
  queue.writeText("drawn");
  assert.equal(queue.replaceRedraw("r4"), false);
  reader.read();
  await queue.flushed();
  assert.equal(reader.text(), "r0r2said\ndrawn");
});

Deno.test("StdoutQueue.replaceRedraw with nothing takes the redraw away, and who waited for it is let go once what came before is written", async () => {
  const reader = stalledReader();
  const queue = new StdoutQueue(reader.sink);
  queue.write("first");
  queue.write("line");
  queue.writeRedraw("a long redraw");
  let written = false;
  void queue.written().then(() => (written = true));
  assert.equal(queue.replaceRedraw(""), true);
  assert.equal(queue.queuedLines, 1);
  reader.read();
  await queue.flushed();
  assert.equal(reader.text(), "first\nline\n");
  assert.equal(written, true);
});
