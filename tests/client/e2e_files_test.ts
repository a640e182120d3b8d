import assert from "node:assert/strict";
import { join } from "node:path";
import { type E2eFolder, openE2eFiles } from "../../src/client/e2e_files.ts";
import { e2eFilePaths } from "../../src/client/e2e_paths.ts";
import { testIdentity } from "../_helpers/chat.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

function folderIn(dir: string): E2eFolder {
  return {
    dir,
    storageKey: join(dir, "storage_key"),
    knownIdentities: join(dir, "known_identities"),
  };
}

Deno.test("openE2eFiles gives two names of one identity their own keys, and a second process of one name none, with a warning", async () => {
  await using dir = await tempDir("chat-e2e-files-");
  const identity = await testIdentity();
  const folder = folderIn(dir.path);
  const alice = await openE2eFiles(folder, identity, "alice");
  const bob = await openE2eFiles(folder, identity, "bob");
  try {
    assert.equal(alice.kind, "keys");
    assert.equal(bob.kind, "keys");
    if (alice.kind !== "keys" || bob.kind !== "keys") return;
    // Each its own signed prekey, as each publishes its own.
    assert.notDeepEqual(
      alice.keys.keyring.bundle.signed,
      bob.keys.keyring.bundle.signed,
    );
    for (const name of ["alice", "bob"]) {
      const paths = e2eFilePaths(dir.path, identity.fingerprint, name);
      await Deno.lstat(paths.keyring);
    }
    // The same name again (another chat connect signed in as Alice).
    const again = await openE2eFiles(folder, identity, "Alice");
    assert.equal(again.kind, "elsewhere");
    if (again.kind === "elsewhere") {
      assert.match(again.warning, /^WARNING: .* as Alice .*pid/);
    }
  } finally {
    alice.release();
    bob.release();
  }
  // Once released (the process ended), the name has its keys back.
  const later = await openE2eFiles(folder, identity, "alice");
  later.release();
  assert.equal(later.kind, "keys");
});
