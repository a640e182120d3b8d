import assert from "node:assert/strict";
import { e2eFilePaths } from "../../src/client/e2e_paths.ts";
import { takeOverLegacyE2eFiles } from "../../src/client/e2e_takeover.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const FINGERPRINT = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

Deno.test("takeOverLegacyE2eFiles gives the old shared files to the first name, whole, and a fresh start to the next", async () => {
  await using dir = await tempDir("chat-e2e-takeover-");
  const alice = e2eFilePaths(dir.path, FINGERPRINT, "alice");
  const bob = e2eFilePaths(dir.path, FINGERPRINT, "bob");
  await Deno.writeTextFile(alice.legacyKeyring, "old keys");
  await Deno.writeTextFile(alice.legacyState, "old state");
  const [first, second] = await Promise.all([
    takeOverLegacyE2eFiles(alice),
    takeOverLegacyE2eFiles(bob),
  ]);
  // One of the two, whichever renamed first, has both files.
  const [winner, loser] = first === "taken" ? [alice, bob] : [bob, alice];
  assert.deepEqual([first, second].sort(), ["fresh", "taken"]);
  assert.equal(await Deno.readTextFile(winner.keyring), "old keys");
  assert.equal(await Deno.readTextFile(winner.state), "old state");
  for (const gone of [loser.keyring, loser.state, alice.legacyKeyring]) {
    await assert.rejects(Deno.lstat(gone), Deno.errors.NotFound);
  }
  // Once a name has its own, an old file (an older version run since) is
  // left alone.
  await Deno.writeTextFile(alice.legacyKeyring, "older version's");
  assert.equal(await takeOverLegacyE2eFiles(winner), "own");
  assert.equal(await Deno.readTextFile(winner.keyring), "old keys");
});

Deno.test("takeOverLegacyE2eFiles never replaces sessions a name already has", async () => {
  await using dir = await tempDir("chat-e2e-takeover-");
  const alice = e2eFilePaths(dir.path, FINGERPRINT, "alice");
  await Deno.writeTextFile(alice.legacyKeyring, "old keys");
  await Deno.writeTextFile(alice.legacyState, "old state");
  await Deno.writeTextFile(alice.state, "alice's state");
  assert.equal(await takeOverLegacyE2eFiles(alice), "taken");
  assert.equal(await Deno.readTextFile(alice.state), "alice's state");
});

Deno.test("takeOverLegacyE2eFiles with no old files is a fresh start", async () => {
  await using dir = await tempDir("chat-e2e-takeover-");
  const alice = e2eFilePaths(dir.path, FINGERPRINT, "alice");
  assert.equal(await takeOverLegacyE2eFiles(alice), "fresh");
});

Deno.test("takeOverLegacyE2eFiles moves a name's files from before its dots at the end were written %2E, except on Windows, where they were another name's", async () => {
  await using dir = await tempDir("chat-e2e-takeover-");
  const bobDot = e2eFilePaths(dir.path, FINGERPRINT, "bob.");
  const dotted = bobDot.dotted!;
  await Deno.writeTextFile(dotted.keyring, "bob.'s keys");
  await Deno.writeTextFile(dotted.state, "bob.'s state");
  await Deno.writeTextFile(bobDot.legacyKeyring, "old shared keys");
  // On Windows `e2e_keys_..._bob.` is `bob`'s file: left to him.
  assert.equal(await takeOverLegacyE2eFiles(bobDot, "windows"), "taken");
  assert.equal(await Deno.readTextFile(bobDot.keyring), "old shared keys");
  assert.equal(await Deno.readTextFile(dotted.keyring), "bob.'s keys");
  await Deno.remove(bobDot.keyring);
  assert.equal(await takeOverLegacyE2eFiles(bobDot, "linux"), "taken");
  assert.equal(await Deno.readTextFile(bobDot.keyring), "bob.'s keys");
  assert.equal(await Deno.readTextFile(bobDot.state), "bob.'s state");
  for (const gone of [dotted.keyring, dotted.state]) {
    await assert.rejects(Deno.lstat(gone), Deno.errors.NotFound);
  }
  assert.equal(await takeOverLegacyE2eFiles(bobDot, "linux"), "own");
});
