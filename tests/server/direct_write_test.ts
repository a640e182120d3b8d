/**
 * Direct writes to a socket's handle (src/server/direct_write.ts) over real
 * loopback TCP sockets: the internal APIs are there, bytes arrive intact
 * and in order with the stream's own writes, a slow reader leaves writes
 * pending with the handle and they finish, and a socket destroyed with
 * writes pending hands every buffer back as failed, without throwing.
 */

import assert from "node:assert/strict";
import {
  type AddressInfo,
  connect,
  createServer,
  type Server,
  type Socket,
} from "node:net";
import {
  type Direct,
  type DirectWriteEvents,
  DirectWrites,
  PIECE_BYTES,
} from "../../src/server/direct_write.ts";
import { until } from "../_helpers/bystanders.ts";

const MIB = 1024 * 1024;

/** A connected pair: `writer` (accepted by a server) and `reader`. */
async function socketPair(): Promise<
  { writer: Socket; reader: Socket; [Symbol.asyncDispose](): Promise<void> }
> {
  const server: Server = createServer();
  const accepted = new Promise<Socket>((resolve) =>
    server.once("connection", resolve)
  );
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  const { port } = server.address() as AddressInfo;
  const reader = connect(port, "127.0.0.1");
  reader.on("error", () => {});
  const writer = await accepted;
  writer.on("error", () => {});
  writer.setNoDelay(true);
  await new Promise<void>((resolve) =>
    reader.connecting ? reader.once("connect", () => resolve()) : resolve()
  );
  return {
    writer,
    reader,
    async [Symbol.asyncDispose]() {
      writer.destroy();
      reader.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Everything `reader` receives until it has `bytes` (or until it closes:
 * then what came), concatenated.
 */
function readBytes(reader: Socket, bytes: number): Promise<Uint8Array> {
  const into = new Uint8Array(bytes);
  let at = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Uint8Array) => {
      if (at + chunk.byteLength > bytes) {
        reject(new Error(`more than ${bytes} bytes arrived`));
      }
      into.set(chunk, at);
      at += chunk.byteLength;
      if (at === bytes) {
        reader.off("data", onData);
        resolve(into);
      }
    };
    reader.on("data", onData);
    reader.once("close", () => resolve(into.subarray(0, at)));
  });
}

/**
 * Events for a DirectWrites that hand each finished buffer to `done` and
 * check the bytes held against those written: never more written than held.
 */
function counted<T>(
  done: (data: T, failed: boolean) => void,
): DirectWriteEvents<T> & { readonly heldBytes: number } {
  let heldBytes = 0;
  return {
    get heldBytes() {
      return heldBytes;
    },
    held(bytes) {
      assert.ok(bytes > 0);
      heldBytes += bytes;
    },
    written(bytes) {
      assert.ok(bytes > 0 && bytes <= heldBytes, "written what was held");
      heldBytes -= bytes;
    },
    done,
  };
}

/** `length` bytes counting up from `start` (mod 251: no period of 2^k). */
function numbered(start: number, length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (start + i) % 251;
  return bytes;
}

function assertNumbered(
  bytes: Uint8Array,
  start: number,
  length = bytes.byteLength,
): void {
  assert.equal(bytes.byteLength, length, "every byte arrived");
  for (let i = 0; i < bytes.byteLength; i++) {
    if (bytes[i] !== (start + i) % 251) {
      assert.fail(`byte ${i} is ${bytes[i]}, not ${(start + i) % 251}`);
    }
  }
}

Deno.test("DirectWrites finds node's stream internals in this runtime, and a small write to an idle socket completes at once", async () => {
  // If this fails, Deno changed process.binding("stream_wrap") or the
  // handle's writeBuffer: every frame would go through the stream (correct,
  // and slower). Update src/server/direct_write.ts.
  assert.equal(DirectWrites.available, true);
  await using pair = await socketPair();
  const direct = new DirectWrites(
    pair.writer,
    counted(
      () => assert.fail("no pending write"),
    ),
  );
  const arrived = readBytes(pair.reader, 300);
  // A socket's first write goes through the stream: until the runtime has
  // polled a new socket once, its handle finishes every write later.
  await new Promise((resolve) => pair.writer.write(numbered(0, 100), resolve));
  assert.equal(direct.write(numbered(100, 100)), "done");
  assert.equal(direct.write(numbered(200, 100)), "done");
  assert.equal(direct.pendingBytes, 0);
  assertNumbered(await arrived, 0, 300);
});

Deno.test("DirectWrites declines while the stream has bytes queued or is corked, and bytes mixed with socket.write arrive in order", async () => {
  await using pair = await socketPair();
  const direct = new DirectWrites<Uint8Array<ArrayBuffer>>(
    pair.writer,
    counted(
      (_, failed) => assert.equal(failed, false),
    ),
  );
  // Held unread: the first 8 MiB, written directly, stays with the handle;
  // the stream's write after it waits behind it (and in the stream's queue).
  pair.reader.pause();
  const sizes = [8 * MIB, 1000, 70_000, 5, 3 * MIB, 17];
  const total = sizes.reduce((a, b) => a + b, 0);
  let at = 0;
  const outcomes: Direct[] = [];
  for (const [k, size] of sizes.entries()) {
    const chunk = numbered(at, size);
    at += size;
    if (k % 2 === 1) {
      pair.writer.write(chunk);
      continue;
    }
    pair.writer.cork();
    assert.equal(direct.write(chunk.subarray(0, 0)), "declined", "corked");
    pair.writer.uncork();
    const outcome = direct.write(chunk);
    outcomes.push(outcome);
    if (outcome === "declined") pair.writer.write(chunk);
  }
  assert.deepEqual(outcomes, ["pending", "declined", "declined"]);
  const arrived = readBytes(pair.reader, total);
  pair.reader.resume();
  assertNumbered(await arrived, 0, total);
});

Deno.test("DirectWrites leaves writes to a slow reader pending with the handle, counts them, and finishes each in order", async () => {
  await using pair = await socketPair();
  const finished: Uint8Array[] = [];
  const direct = new DirectWrites<Uint8Array<ArrayBuffer>>(
    pair.writer,
    counted(
      (data, failed) => {
        assert.equal(failed, false);
        finished.push(data);
      },
    ),
  );
  pair.reader.pause();
  // Until the kernel's buffers are full and writes stay with the handle.
  const written: Uint8Array<ArrayBuffer>[] = [];
  let at = 0;
  let pending = 0;
  while (pending < 8) {
    const chunk = numbered(at, 256 * 1024 + 3);
    at += chunk.byteLength;
    const outcome = direct.write(chunk);
    assert.notEqual(outcome, "declined");
    if (outcome === "pending") {
      pending++;
      written.push(chunk);
    } else {
      assert.equal(
        pending,
        0,
        "nothing completes at once behind a pending write",
      );
    }
    assert.ok(at < 256 * MIB, "the kernel never stopped taking bytes");
  }
  assert.ok(direct.pendingBytes >= 8 * (256 * 1024));
  // One write much larger than the socket's buffers: written in parts.
  const large = numbered(at, 16 * MIB + 1);
  at += large.byteLength;
  assert.equal(direct.write(large), "pending");
  written.push(large);
  const arrived = readBytes(pair.reader, at);
  pair.reader.resume();
  assertNumbered(await arrived, 0, at);
  await until(
    () => finished.length === written.length,
    "every pending write to finish",
  );
  assert.deepEqual(finished, written);
  assert.equal(direct.pendingBytes, 0);
});

Deno.test("DirectWrites hands back every pending buffer as failed when the socket is destroyed mid-write, and the socket ends cleanly after end()", async () => {
  await using pair = await socketPair();
  const failed: Uint8Array[] = [];
  const events = counted<Uint8Array<ArrayBuffer>>((data, wasFailed) => {
    assert.equal(wasFailed, true);
    failed.push(data);
  });
  const direct = new DirectWrites(pair.writer, events);
  pair.reader.pause();
  const pending: Uint8Array[] = [];
  for (let i = 0; pending.length < 3; i++) {
    assert.ok(i < 1000, "the kernel never stopped taking bytes");
    const chunk = new Uint8Array(MIB);
    if (direct.write(chunk) === "pending") pending.push(chunk);
  }
  pair.writer.destroy();
  await until(
    () => failed.length === pending.length,
    "every pending write to fail",
  );
  assert.deepEqual(failed, pending);
  assert.equal(direct.pendingBytes, 0);
  // Each held piece told written once, each buffer handed back once.
  assert.equal(events.heldBytes, 0);
  // Destroyed: declined, not thrown.
  assert.equal(direct.write(new Uint8Array(10)), "declined");

  // end() with a write pending: the write finishes, then the end.
  await using second = await socketPair();
  const ends: boolean[] = [];
  const next = new DirectWrites<Uint8Array<ArrayBuffer>>(
    second.writer,
    counted(
      (_, wasFailed) => ends.push(wasFailed),
    ),
  );
  second.reader.pause();
  const large = numbered(0, 32 * MIB);
  assert.equal(next.write(large), "pending");
  second.writer.end();
  const arrived = readBytes(second.reader, large.byteLength);
  const ended = new Promise<void>((resolve) =>
    second.reader.once("end", () => resolve())
  );
  second.reader.resume();
  assertNumbered(await arrived, 0, large.byteLength);
  await ended;
  assert.deepEqual(ends, [false]);
});

Deno.test("DirectWrites hands a write larger than PIECE_BYTES over in pieces: what it holds falls as a slow reader reads, before the write is done", async () => {
  await using pair = await socketPair();
  const finished: Uint8Array[] = [];
  const events = counted<Uint8Array<ArrayBuffer>>((data, failed) => {
    assert.equal(failed, false);
    finished.push(data);
  });
  const direct = new DirectWrites(pair.writer, events);
  pair.reader.pause();
  // Larger than the kernel's buffers on both sides can take, even grown
  // (4 MiB to send, 32 MiB to receive at most here): most of it is held.
  const large = numbered(0, 64 * MIB + 5);
  assert.equal(direct.write(large), "pending");
  const held = direct.pendingBytes;
  assert.ok(held > 16 * MIB, `${held} bytes held`);
  assert.equal(events.heldBytes, held);
  // The reader takes a part of it and stops: the rest is still held, and
  // less of it than before (one write of 64 MiB showed no fall until the
  // reader had all of it).
  const partBytes = 8 * MIB;
  let read = 0;
  const chunks: Uint8Array[] = [];
  const onData = (chunk: Uint8Array) => {
    chunks.push(chunk);
    read += chunk.byteLength;
    if (read >= partBytes) pair.reader.pause();
  };
  pair.reader.on("data", onData);
  pair.reader.resume();
  await until(
    () => direct.pendingBytes < held,
    "what is held to fall while the reader reads",
  );
  assert.deepEqual(finished, [], "the write is not done");
  assert.equal(events.heldBytes, direct.pendingBytes);
  assert.ok(direct.pendingBytes > 0);
  pair.reader.off("data", onData);
  // The rest, in order after what came.
  const rest = readBytes(pair.reader, large.byteLength - read);
  pair.reader.resume();
  const all = new Uint8Array(large.byteLength);
  let at = 0;
  for (const chunk of [...chunks, await rest]) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  assertNumbered(all, 0, large.byteLength);
  await until(() => finished.length === 1, "the write to finish");
  assert.equal(finished[0], large);
  assert.equal(direct.pendingBytes, 0);
  assert.equal(events.heldBytes, 0);
  // Only a write larger than a piece goes in pieces: the usual small one
  // is one call, done at once on an idle socket.
  assert.equal(direct.write(numbered(at, PIECE_BYTES)), "done");
});
