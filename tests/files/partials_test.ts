import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  PARTIAL_DIR,
  PARTIAL_MAX_AGE_MS,
  partialKey,
  partialPaths,
  removePartial,
  scanPartials,
} from "../../src/files/partials.ts";
import { IncomingFile } from "../../src/files/save.ts";

async function withDownloads(run: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "chat-partials-" });
  try {
    await Deno.mkdir(`${dir}/${PARTIAL_DIR}`);
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function plant(
  dir: string,
  key: string,
  part: Uint8Array | null,
  meta: unknown,
): Promise<void> {
  const paths = partialPaths(dir, key);
  if (part !== null) await Deno.writeFile(paths.part, part);
  if (meta !== undefined) {
    await Deno.writeTextFile(paths.meta, JSON.stringify(meta));
  }
}

const META = {
  v: 1,
  from: "sophia",
  fingerprint: "SHA256:x",
  name: "big.bin",
  size: 10,
};

Deno.test("partialKey depends on the sender's key, the name and the size", () => {
  const key = partialKey("SHA256:x", "big.bin", 10);
  assert.match(key, /^[0-9a-f]{32}$/);
  assert.equal(partialKey("SHA256:x", "big.bin", 10), key);
  assert.notEqual(partialKey("SHA256:y", "big.bin", 10), key);
  assert.notEqual(partialKey("SHA256:x", "big.bin ", 10), key);
  assert.notEqual(partialKey("SHA256:x", "big.bin", 11), key);
});

Deno.test("scanPartials keeps resumable partials and cleans what cannot be resumed", async () => {
  await withDownloads(async (dir) => {
    const good = "a".repeat(32);
    await plant(dir, good, new Uint8Array(4), META);
    await plant(dir, "b".repeat(32), new Uint8Array(4), undefined); // no description
    await plant(dir, "c".repeat(32), new Uint8Array(4), { v: 2 }); // broken one
    await plant(dir, "d".repeat(32), new Uint8Array(11), META); // over its size
    await plant(dir, "e".repeat(32), null, META); // description alone
    // Not ours: left alone.
    await Deno.writeTextFile(`${dir}/${PARTIAL_DIR}/notes.txt`, "x");
    const listed = await scanPartials(dir);
    assert.deepEqual(listed.partials.map((p) => p.key), [good]);
    assert.equal(listed.removed, 0, "listing alone removes nothing");
    const cleaned = await scanPartials(dir, { clean: true });
    assert.deepEqual(cleaned.partials.map((p) => [p.key, p.held]), [[good, 4]]);
    assert.equal(cleaned.removed, 6);
    const left = (await Array.fromAsync(Deno.readDir(`${dir}/${PARTIAL_DIR}`)))
      .map((e) => e.name).sort();
    assert.deepEqual(left, [`${good}.json`, `${good}.part`, "notes.txt"]);
  });
});

Deno.test("scanPartials removes a partial untouched for more than a week", async () => {
  await withDownloads(async (dir) => {
    await plant(dir, "a".repeat(32), new Uint8Array(4), META);
    const later = Date.now() + PARTIAL_MAX_AGE_MS + 60_000;
    const { partials, removed } = await scanPartials(dir, {
      clean: true,
      now: later,
    });
    assert.deepEqual(partials, []);
    assert.equal(removed, 2);
  });
});

Deno.test("removePartial removes both files and says whether there was one", async () => {
  await withDownloads(async (dir) => {
    await plant(dir, "a".repeat(32), new Uint8Array(4), META);
    assert.equal(await removePartial(dir, "a".repeat(32)), "removed");
    assert.equal(await removePartial(dir, "a".repeat(32)), "none");
    assert.deepEqual(
      await Array.fromAsync(Deno.readDir(`${dir}/${PARTIAL_DIR}`)),
      [],
    );
  });
});

Deno.test("removePartial leaves a partial a transfer is continuing (/cancel of what /transfers listed as kept, since resumed here or by another process), and that transfer saves the file whole", async () => {
  await withDownloads(async (dir) => {
    const content = new TextEncoder().encode("received while cancelled\n");
    const key = "b".repeat(32);
    const file = await IncomingFile.create(dir, META.name, content.length, {
      maxBytes: 1024 * 1024,
      resume: { key, meta: { ...META, v: 1, size: content.length } },
    });
    await file.write(content.subarray(0, 8));
    assert.equal(await removePartial(dir, key), "receiving");
    await file.write(content.subarray(8));
    const saved = await file.finish(
      createHash("sha256").update(content).digest("hex"),
    );
    assert.deepEqual(await Deno.readFile(saved.path), content);
    assert.equal(await removePartial(dir, key), "none");
  });
});

Deno.test("scanPartials of a downloads folder without partials is empty", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await scanPartials(dir, { clean: true }), {
      partials: [],
      removed: 0,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
