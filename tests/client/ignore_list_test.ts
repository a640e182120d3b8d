import assert from "node:assert/strict";
import {
  addIgnoreEntry,
  IgnoreList,
  parseIgnoreFile,
  removeIgnoreEntries,
} from "../../src/client/ignore_list.ts";

const SERVER = "SHA256:" + "s".repeat(43);
const OTHER = "SHA256:" + "o".repeat(43);
const JOJO = "SHA256:" + "j".repeat(43);
const MALLORY = "SHA256:" + "m".repeat(43);

Deno.test("IgnoreList hides by key when known, by name otherwise, per server", () => {
  const list = new IgnoreList(SERVER, [
    { server: SERVER, fingerprint: JOJO, name: "jojo" },
    { server: SERVER, fingerprint: null, name: "spammer" },
    { server: OTHER, fingerprint: MALLORY, name: "mallory" },
  ]);
  assert.equal(list.isIgnored("jojo", JOJO), true);
  // The same key under another name.
  assert.equal(list.isIgnored("jojo2", JOJO), true);
  // The name released and bound to a new key: someone else now.
  assert.equal(list.isIgnored("jojo", MALLORY), false);
  // Key not known (offline history): by name.
  assert.equal(list.isIgnored("JOJO", null), true);
  assert.equal(list.isIgnored("spammer", MALLORY), true);
  assert.equal(list.isIgnored("mallory", MALLORY), false, "another server's");
  assert.equal(list.remove("Jojo", null), 1);
  assert.equal(list.isIgnored("jojo", JOJO), false);
  list.add({ fingerprint: JOJO, name: "jojo" });
  list.add({ fingerprint: JOJO, name: "jojo" });
  assert.equal(list.entries().length, 2);
});

Deno.test("addIgnoreEntry and removeIgnoreEntries edit the file text, keeping lines not understood", () => {
  let text = addIgnoreEntry("", {
    server: SERVER,
    fingerprint: JOJO,
    name: "jojo",
  });
  assert.match(text, /^# Users whose messages/);
  text += "garbage line\n";
  text = addIgnoreEntry(text, { server: SERVER, fingerprint: null, name: "x" });
  assert.deepEqual(parseIgnoreFile(text), [
    { server: SERVER, fingerprint: JOJO, name: "jojo" },
    { server: SERVER, fingerprint: null, name: "x" },
  ]);
  text = removeIgnoreEntries(text, SERVER, "jojo", null);
  assert.deepEqual(parseIgnoreFile(text), [
    { server: SERVER, fingerprint: null, name: "x" },
  ]);
  assert.match(text, /garbage line/);
  assert.throws(
    () => addIgnoreEntry("", { server: "x", fingerprint: null, name: "a" }),
    TypeError,
  );
});
