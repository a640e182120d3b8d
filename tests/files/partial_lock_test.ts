import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  type PartialMeta,
  partialPaths,
  scanPartials,
} from "../../src/files/partials.ts";
import { IncomingFile } from "../../src/files/save.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

// Two `chat connect` processes of one OS account sharing a downloads folder
// (two names, two terminals), each offered the same file by the same sender:
// real processes, since the partial's lock is the kernel's (flock).

const CONTENT = new TextEncoder().encode(
  "one partial, two processes\n".repeat(40),
);
const HALF = CONTENT.length / 2;
const SHA256 = createHash("sha256").update(CONTENT).digest("hex");
const KEY = "c".repeat(32);
const META: PartialMeta = {
  v: 1,
  from: "sophia",
  fingerprint: "SHA256:x",
  name: "example.txt",
  size: CONTENT.length,
};
const OPTIONS = { maxBytes: 1024 * 1024, resume: { key: KEY, meta: META } };

const SAVE_MODULE = new URL("../../src/files/save.ts", import.meta.url).href;

/**
 * A process receiving the file into `downloads` as a resumable partial: it
 * writes the first half, says where ("ready <partPath>"), then waits for one
 * byte on stdin: "f" writes the rest and finishes ("saved <path>"), "s"
 * suspends (a lost connection: the partial is kept) and ends.
 */
function receiver(downloads: string) {
  const code = `
    import { IncomingFile } from ${JSON.stringify(SAVE_MODULE)};
    const content = new Uint8Array(${JSON.stringify([...CONTENT])});
    const file = await IncomingFile.create(${JSON.stringify(downloads)},
      "example.txt", content.length, ${JSON.stringify(OPTIONS)});
    await file.write(content.subarray(0, ${HALF}));
    const out = Deno.stdout.writable.getWriter();
    const say = (line) => out.write(new TextEncoder().encode(line + "\\n"));
    await say("ready " + file.partPath);
    const byte = new Uint8Array(1);
    await Deno.stdin.read(byte);
    if (byte[0] === "f".charCodeAt(0)) {
      await file.write(content.subarray(${HALF}));
      const saved = await file.finish(${JSON.stringify(SHA256)});
      await say("saved " + saved.path);
    } else {
      await file.suspend("the connection was lost");
      await say("suspended");
    }
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const errors = new Response(child.stderr).text();
  let buffered = "";
  const stdin = child.stdin.getWriter();
  return {
    /** Its next line of output. */
    async line(): Promise<string> {
      while (!buffered.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`Ended before a line: ${await errors}`);
        buffered += value;
      }
      const at = buffered.indexOf("\n");
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      return line;
    },
    async tell(what: "f" | "s"): Promise<void> {
      await stdin.write(new TextEncoder().encode(what));
      await stdin.close();
    },
    async [Symbol.asyncDispose]() {
      await stdin.close().catch(() => {});
      await lines.cancel().catch(() => {});
      await errors;
      await child.status;
    },
  };
}

Deno.test("IncomingFile receives afresh a file whose partial another process is receiving into, and both save it whole", async () => {
  await using dir = await tempDir("chat-partial-lock-");
  const downloads = join(dir.path, "downloads");
  await using other = receiver(downloads);
  const ready = await other.line();
  assert.equal(ready, `ready ${partialPaths(downloads, KEY).part}`);
  const file = await IncomingFile.create(
    downloads,
    "example.txt",
    CONTENT.length,
    OPTIONS,
  );
  // Not the other's part: that one holds half the file already, and the
  // bytes written here would be added to its own.
  assert.equal(file.resumable, false);
  assert.equal(file.resumeClaim(), null);
  assert.notEqual(file.partPath, partialPaths(downloads, KEY).part);
  await file.write(CONTENT);
  const mine = await file.finish(SHA256);
  await other.tell("f");
  const theirs = (await other.line()).replace(/^saved /, "");
  assert.deepEqual(await Deno.readFile(mine.path), CONTENT);
  assert.deepEqual(await Deno.readFile(theirs), CONTENT);
  assert.notEqual(mine.path, theirs);
});

Deno.test("IncomingFile resumes a partial once the process that received into it let it go, and leaves no lock file behind", async () => {
  await using dir = await tempDir("chat-partial-lock-");
  const downloads = join(dir.path, "downloads");
  const paths = partialPaths(downloads, KEY);
  {
    await using other = receiver(downloads);
    await other.line();
    await other.tell("s");
    assert.equal(await other.line(), "suspended");
  }
  await assert.rejects(Deno.lstat(paths.lock), Deno.errors.NotFound);
  const file = await IncomingFile.create(
    downloads,
    "example.txt",
    CONTENT.length,
    OPTIONS,
  );
  assert.equal(file.resumable, true);
  assert.equal(file.resumeClaim()?.offset, HALF);
  await file.write(CONTENT.subarray(HALF));
  const saved = await file.finish(SHA256);
  assert.deepEqual(await Deno.readFile(saved.path), CONTENT);
  // Nothing left of the partial, the folder included.
  await assert.rejects(Deno.lstat(paths.dir), Deno.errors.NotFound);
});

Deno.test("scanPartials does not clean away a partial another process is receiving into", async () => {
  await using dir = await tempDir("chat-partial-lock-");
  const downloads = join(dir.path, "downloads");
  const paths = partialPaths(downloads, KEY);
  await using other = receiver(downloads);
  await other.line();
  // As a newcomer finds it while the other rewrites the description.
  await Deno.remove(paths.meta);
  const cleaned = await scanPartials(downloads, { clean: true });
  assert.deepEqual(cleaned, { partials: [], removed: 0 });
  assert.ok((await Deno.lstat(paths.part)).isFile);
  await other.tell("s");
  assert.equal(await other.line(), "suspended");
  // Let go, and still without a description: cleaned now, lock file too.
  assert.equal((await scanPartials(downloads, { clean: true })).removed, 1);
  await assert.rejects(Deno.lstat(paths.part), Deno.errors.NotFound);
  await assert.rejects(Deno.lstat(paths.lock), Deno.errors.NotFound);
});
