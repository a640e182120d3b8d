import assert from "node:assert/strict";
import { loadE2eState, saveE2eState } from "../../src/client/e2e_state_file.ts";
import {
  archive,
  type E2eState,
  emptyE2eState,
} from "../../src/client/e2e_state.ts";

const SERVER = "SHA256:" + "s".repeat(43);

function withArchive(count: number): E2eState {
  const state = emptyE2eState();
  for (let id = 1; id <= count; id++) {
    archive(state, {
      server: SERVER,
      id,
      from: "ann",
      to: "bob",
      ts: id,
      text: `message ${id} `.repeat(20),
    });
  }
  return state;
}

Deno.test("saveE2eState never writes a state over its bound: the oldest archived messages go, the user is told once, and the file reads back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/e2e_state`;
    const key = crypto.getRandomValues(new Uint8Array(32));
    const maxBytes = 64 * 1024;
    const lines: string[] = [];
    await saveE2eState(
      path,
      key,
      withArchive(10),
      (l) => lines.push(l),
      maxBytes,
    );
    assert.ok(lines.length === 0);
    // Over the bound (about 300 bytes of JSON a message): written as it is,
    // the next start would refuse the file and every session with it.
    const grown = withArchive(1000);
    await saveE2eState(path, key, grown, (l) => lines.push(l), maxBytes);
    assert.ok((await Deno.stat(path)).size <= maxBytes);
    const back = await loadE2eState(path, key, maxBytes);
    assert.ok(back.archive.size > 0 && back.archive.size < 1000);
    // The newest are the ones kept, and the state in memory is the one saved.
    assert.ok(back.archive.has(`${SERVER} 1000`));
    assert.ok(!back.archive.has(`${SERVER} 1`));
    assert.equal(grown.archive.size, back.archive.size);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] ?? "",
      /^WARNING: The end-to-end sessions '.*' grew past the 65536 bytes read back; to keep them readable, dropped the \d+ oldest archived messages \(\/history no longer shows them\)$/,
    );
    // Once it fits, saving again says nothing more.
    await saveE2eState(path, key, grown, (l) => lines.push(l), maxBytes);
    assert.equal(lines.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveE2eState keeps the old file when the state cannot be made to fit its bound", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/e2e_state`;
    const key = crypto.getRandomValues(new Uint8Array(32));
    const maxBytes = 16 * 1024;
    const ignore = () => {};
    await saveE2eState(path, key, withArchive(3), ignore, maxBytes);
    const before = await Deno.readTextFile(path);
    // Verifications are never dropped: nothing can bring this one under.
    const state = withArchive(3);
    for (let i = 0; i < 1000; i++) {
      state.verified.set(`${SERVER} peer${i}`, "SHA256:" + "f".repeat(43));
    }
    await assert.rejects(
      saveE2eState(path, key, state, ignore, maxBytes),
      /^Error: Cannot save the end-to-end sessions '.*': they would take \d+ bytes, over the 16384 read back, even without archived messages and keys of skipped ones; the file was left as it was, and what changed since is lost at exit$/,
    );
    assert.equal(await Deno.readTextFile(path), before);
    assert.equal((await loadE2eState(path, key, maxBytes)).archive.size, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
