import assert from "node:assert/strict";
import {
  ReceivedFiles,
  RECENT_FILES,
  RECENT_MS,
} from "../../src/client/received_files.ts";

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
