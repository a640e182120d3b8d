import assert from "node:assert/strict";
import { join } from "node:path";
import {
  e2eElsewhereWarning,
  lockE2eFiles,
} from "../../src/client/e2e_lock.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

Deno.test("lockE2eFiles gives the lock to one holder at a time, naming it to the next", async () => {
  await using dir = await tempDir("chat-e2e-lock-");
  const path = join(dir.path, "chat", "e2e_lock_x_alice");
  const first = await lockE2eFiles(path);
  assert.equal(first.kind, "held");
  assert.equal(await Deno.readTextFile(path), `${Deno.pid}\n`);
  // flock: a second open of the file conflicts, even in this process.
  assert.deepEqual(await lockE2eFiles(path), {
    kind: "elsewhere",
    pid: Deno.pid,
  });
  // Another name's lock is another file: never refused.
  const other = await lockE2eFiles(join(dir.path, "chat", "e2e_lock_x_bob"));
  assert.equal(other.kind, "held");
  if (other.kind === "held") other.release();
  if (first.kind === "held") first.release();
  const again = await lockE2eFiles(path);
  assert.equal(again.kind, "held");
  if (again.kind === "held") again.release();
});

Deno.test("e2eElsewhereWarning names the user, and the holder when known", () => {
  assert.match(
    e2eElsewhereWarning("alice", 42),
    /^WARNING: .* as alice .*\(pid 42\): private/,
  );
  assert.doesNotMatch(e2eElsewhereWarning("alice", null), /pid/);
});
