import assert from "node:assert/strict";
import { join } from "node:path";
import { fileSlot } from "../../src/client/file_slot.ts";
import { lockFile } from "../../src/fs/file_lock.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

Deno.test("fileSlot reads null before the file exists, then what it wrote, mode 0600", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-file-slot-" });
  try {
    const path = join(dir, "config", "record");
    const slot = fileSlot(path, "the record", 1024);
    assert.equal(slot.where, `'${path}'`);
    assert.equal(await slot.read(), null);
    await slot.write("first\n");
    await slot.write("second\n");
    assert.equal(await slot.read(), "second\n");
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileSlot refuses a file larger than its bound, or a folder, with what to do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-file-slot-" });
  try {
    const path = join(dir, "big");
    await Deno.writeTextFile(path, "x".repeat(2048));
    await assert.rejects(
      fileSlot(path, "the record", 1024).read(),
      /^Error: Cannot read the record '.*big': not a small file; move it away$/,
    );
    await assert.rejects(
      fileSlot(dir, "the record", 1024).read(),
      /not a small file; move it away$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileSlot with lockWaitMs runs work under '<path>.lock', and says who holds it when it cannot be had in time", async () => {
  await using dir = await tempDir("chat-file-slot-");
  const path = join(dir.path, "config", "record");
  const slot = fileSlot(path, "the record", 1024, { lockWaitMs: 50 });
  assert.notEqual(slot.exclusively, undefined);
  assert.equal(fileSlot(path, "the record", 1024).exclusively, undefined);
  // Held while the work runs: another taker is refused meanwhile.
  assert.equal(
    await slot.exclusively!(async () => {
      assert.equal((await lockFile(`${path}.lock`)).kind, "elsewhere");
      return "done";
    }),
    "done",
  );
  const held = await lockFile(`${path}.lock`);
  assert.equal(held.kind, "held");
  let ran = false;
  await assert.rejects(
    slot.exclusively!(() => {
      ran = true;
      return Promise.resolve();
    }),
    new RegExp(
      `^Error: Cannot change the record '${path}': another process \\(pid ${Deno.pid}\\) has held '${path}.lock' for over 50 ms$`,
    ),
  );
  assert.equal(ran, false);
  if (held.kind === "held") held.release();
  // Let go after a failure too.
  await slot.exclusively!(() => Promise.resolve());
  await assert.rejects(
    slot.exclusively!(() => Promise.reject(new Error("disk full"))),
    /disk full/,
  );
  const after = await lockFile(`${path}.lock`);
  assert.equal(after.kind, "held");
  if (after.kind === "held") after.release();
});
