/**
 * A stand-in for a busy server, for the kill -9 test: appends messages to the
 * store at `Deno.args[0]`, one transaction each, and prints each message's id
 * once its transaction has committed, like a server replying after the
 * write. It runs until killed.
 */

import { openStore } from "../../src/store/sqlite_store.ts";

const path = Deno.args[0];
if (path === undefined) throw new Error("Usage: _writer.ts DATABASE");

const store = openStore(path);
const now = Date.now();
store.transaction(() => {
  store.ensureUser("alice", "alice", now);
  store.ensureUser("bob", "bob", now);
  if (store.getGroup("team") === undefined) {
    store.createGroup("team", "team", "alice", now);
    store.addMember("team", "alice", "alice", now);
    store.addMember("team", "bob", "bob", now);
  }
});

// Bodies big enough that the log passes SQLite's automatic checkpoint (1000
// pages) several times, so the kill can land in one.
const body = new Uint8Array(3000).map((_, i) => i % 251);
const encoder = new TextEncoder();
for (let i = 0;; i++) {
  const id = store.transaction(() => {
    const at = Date.now();
    store.touchMessage("alice", at);
    return store.appendMessage({
      ts: at,
      kind: "group",
      groupKey: "team",
      fromKey: "alice",
      fromName: "alice",
      body,
      recipients: [{ userKey: "bob", delivered: i % 2 === 0 }],
    }).id;
  });
  writeAll(encoder.encode(`${id}\n`));
}

function writeAll(bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}
