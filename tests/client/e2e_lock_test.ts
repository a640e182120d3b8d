import assert from "node:assert/strict";
import { join } from "node:path";
import {
  e2eElsewhereWarning,
  holderPid,
  lockE2eFiles,
} from "../../src/client/e2e_lock.ts";

Deno.test("lockE2eFiles gives the lock to one holder at a time, naming it to the next", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-lock-" });
  try {
    const path = join(dir, "chat", "e2e_lock_x");
    const first = await lockE2eFiles(path);
    assert.equal(first.kind, "held");
    assert.equal(await Deno.readTextFile(path), `${Deno.pid}\n`);
    // flock: a second open of the file conflicts, even in this process.
    assert.deepEqual(await lockE2eFiles(path), {
      kind: "elsewhere",
      pid: Deno.pid,
    });
    if (first.kind === "held") first.release();
    const again = await lockE2eFiles(path);
    assert.equal(again.kind, "held");
    if (again.kind === "held") again.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("holderPid reads a pid, and nothing else", () => {
  assert.equal(holderPid("123\n"), 123);
  assert.equal(holderPid(""), null);
  assert.equal(holderPid("12x\n"), null);
});

Deno.test("e2eElsewhereWarning names the holder when known", () => {
  assert.match(e2eElsewhereWarning(42), /^WARNING: .*\(pid 42\): private/);
  assert.doesNotMatch(e2eElsewhereWarning(null), /pid/);
});
