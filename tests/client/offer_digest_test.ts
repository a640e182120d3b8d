/**
 * The file hashed before its first offer (digestBeforeOffer): stopped
 * (/cancel, the second /quit) while it is read, it reads no further. Before,
 * the whole file (up to 64 MiB) was read and hashed first: on a slow disk
 * (a USB stick at 10 MB/s, 6 s), /cancel took effect only then, and the
 * lines typed after it waited as long. A real file on disk.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { digestBeforeOffer } from "../../src/client/file_sender.ts";

const SIZE = 8 * 1024 * 1024;

async function withFile(
  use: (file: Deno.FsFile, bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-offer-digest-" });
  try {
    const bytes = new Uint8Array(SIZE);
    for (let at = 0; at < SIZE; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, at + 65536));
    }
    const path = join(dir, "big.bin");
    await Deno.writeFile(path, bytes);
    using file = await Deno.open(path, { read: true });
    await use(file, bytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("digestBeforeOffer reads no further once the file is stopped, and leaves it at its start", async () => {
  await withFile(async (file) => {
    let asked = 0;
    // Stopped once a block of it was read.
    const digest = await digestBeforeOffer(file, SIZE, () => ++asked > 1);
    assert.equal(digest, undefined);
    assert.ok(asked <= 2, `asked ${asked} times whether it was stopped`);
    assert.equal(await file.seek(0, Deno.SeekMode.Current), 0);
  });
});

Deno.test("digestBeforeOffer gives the file's SHA-256 when it is not stopped", async () => {
  await withFile(async (file, bytes) => {
    // No time limit: a loaded machine may take longer than the budget.
    const digest = await digestBeforeOffer(file, SIZE, () => false, Infinity);
    assert.equal(digest, createHash("sha256").update(bytes).digest("hex"));
    assert.equal(await file.seek(0, Deno.SeekMode.Current), 0);
  });
});

Deno.test("digestBeforeOffer gives up past its time budget after a block, leaving the file at its start, so the lines typed after /file are not held by a slow disk", async () => {
  await withFile(async (file) => {
    let asked = 0;
    const digest = await digestBeforeOffer(file, SIZE, () => {
      asked++;
      return false;
    }, 0);
    assert.equal(digest, undefined);
    // One block read (always), then the budget is past.
    assert.equal(asked, 2);
    assert.equal(await file.seek(0, Deno.SeekMode.Current), 0);
  });
});

Deno.test("digestBeforeOffer hashes a file of one block whatever its budget", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-offer-digest-" });
  try {
    const bytes = new TextEncoder().encode("notes ".repeat(1000));
    const path = join(dir, "notes.txt");
    await Deno.writeFile(path, bytes);
    using file = await Deno.open(path, { read: true });
    const digest = await digestBeforeOffer(file, bytes.length, () => false, 0);
    assert.equal(digest, createHash("sha256").update(bytes).digest("hex"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
