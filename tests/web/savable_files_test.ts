import assert from "node:assert/strict";
import {
  SAVABLE_FILES_BYTES,
  SavableFiles,
} from "../../src/web/savable_files.ts";
import {
  WEB_MAX_FILE_BYTES,
  WEB_MAX_RECEIVING_BYTES,
} from "../../src/web/web_files.ts";

/** Whether `url` still gives the file (Deno resolves object URLs as a page does). */
async function readable(url: string): Promise<boolean> {
  try {
    await (await fetch(url)).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

function file(size: number): Blob {
  return new Blob([new Uint8Array(size)]);
}

Deno.test("SavableFiles keeps a file behind an object URL until its row lets it go", async () => {
  const savable = new SavableFiles();
  const url = savable.keep(new Blob(["notes"]), () => assert.fail("dropped"));
  assert.equal(await (await fetch(url)).text(), "notes");
  assert.equal(savable.bytes, 5);
  savable.release(url);
  assert.equal(await readable(url), false);
  assert.equal(savable.bytes, 0);
  assert.equal(savable.count, 0);
  savable.release(url); // twice, or unknown: nothing happens
});

Deno.test("SavableFiles lets the oldest files go past its bound and tells their rows; the newest stays whatever its size", async () => {
  const savable = new SavableFiles(100);
  const dropped: string[] = [];
  const a = savable.keep(file(40), () => dropped.push("a"));
  const b = savable.keep(file(40), () => dropped.push("b"));
  assert.equal(dropped.length, 0);
  const c = savable.keep(file(40), () => dropped.push("c"));
  assert.deepEqual(dropped, ["a"]);
  assert.equal(await readable(a), false);
  assert.equal(await readable(b), true);
  assert.equal(savable.bytes, 80);
  // Larger than the bound alone: all the others go, it stays.
  const d = savable.keep(file(150), () => dropped.push("d"));
  assert.deepEqual(dropped, ["a", "b", "c"]);
  assert.equal(await readable(c), false);
  assert.equal(await readable(d), true);
  assert.equal(savable.count, 1);
  savable.releaseAll();
  assert.equal(await readable(d), false);
  assert.equal(savable.bytes, 0);
});

Deno.test("SavableFiles keeps as much as a page may have coming in: the largest file and one more always fit", () => {
  assert.equal(SAVABLE_FILES_BYTES, WEB_MAX_RECEIVING_BYTES);
  assert.ok(SAVABLE_FILES_BYTES >= 2 * WEB_MAX_FILE_BYTES);
});
