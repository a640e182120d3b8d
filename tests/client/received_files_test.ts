import assert from "node:assert/strict";
import {
  claimWhole,
  endsAsReceived,
  offeredAgain,
  ReceivedFiles,
  RECENT_FILES,
  RECENT_MS,
} from "../../src/client/received_files.ts";
import { FileCipher } from "../../src/crypto/file_cipher.ts";

const file = (from: string) => ({
  from,
  sha256: "ab".repeat(32),
  path: "/downloads/a.txt",
  name: "a.txt",
});

Deno.test("ReceivedFiles finds a file only from its sender, for RECENT_MS", () => {
  let now = 1_000;
  const received = new ReceivedFiles(() => now);
  received.remember("k", file("Alice"));
  assert.equal(received.find("k", "alice")?.path, "/downloads/a.txt");
  assert.equal(received.find("k", "mallory"), null);
  assert.equal(received.find("other", "alice"), null);
  now += RECENT_MS + 1;
  assert.equal(received.find("k", "alice"), null);
});

Deno.test("ReceivedFiles keeps at most RECENT_FILES, forgetting the oldest", () => {
  const received = new ReceivedFiles();
  for (let i = 0; i <= RECENT_FILES; i++) received.remember(`k${i}`, file("a"));
  assert.equal(received.find("k0", "a"), null);
  assert.notEqual(received.find(`k${RECENT_FILES}`, "a"), null);
  received.forget(`k${RECENT_FILES}`);
  assert.equal(received.find(`k${RECENT_FILES}`, "a"), null);
});

Deno.test("claimWhole claims the file at its size with its keyed SHA-256, which endsAsReceived recognises", async () => {
  const cipher = await FileCipher.create(new Uint8Array(32).fill(7), 9, 300);
  const here = file("alice");
  const claim = await claimWhole({ xfer: 9, size: 300 }, here, cipher);
  assert.deepEqual(claim, {
    t: "file_accept",
    xfer: 9,
    offset: 300,
    sha256: await cipher.keyedDigest(here.sha256),
  });
  assert.notEqual(claim.sha256, here.sha256);
  assert.equal(
    await endsAsReceived(here, cipher, claim.sha256.toUpperCase()),
    true,
  );
  assert.equal(
    await endsAsReceived(
      { ...here, sha256: "cd".repeat(32) },
      cipher,
      claim.sha256,
    ),
    false,
  );
});

Deno.test("offeredAgain takes an offer as the file here only with that file's keyed digest", async () => {
  const cipher = await FileCipher.create(new Uint8Array(32).fill(7), 9, 300);
  const here = file("alice");
  const keyed = await cipher.keyedDigest(here.sha256);
  assert.equal(await offeredAgain({ sha256: keyed }, here, cipher), true);
  // A new file under its name and size: no digest, or another one.
  assert.equal(await offeredAgain({}, here, cipher), false);
  assert.equal(
    await offeredAgain(
      { sha256: await cipher.keyedDigest("cd".repeat(32)) },
      here,
      cipher,
    ),
    false,
  );
  // Its plain SHA-256 is not its digest on the wire (keyed, 5.6).
  assert.equal(
    await offeredAgain({ sha256: here.sha256 }, here, cipher),
    false,
  );
});
