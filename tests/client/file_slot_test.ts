import assert from "node:assert/strict";
import { join } from "node:path";
import { fileSlot } from "../../src/client/file_slot.ts";

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
