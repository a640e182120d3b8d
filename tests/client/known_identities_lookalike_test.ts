import assert from "node:assert/strict";
import { KnownIdentities } from "../../src/client/known_identities.ts";

const SERVER = "SHA256:" + "s".repeat(43);
const OTHER_SERVER = "SHA256:" + "o".repeat(43);
const ALICE = "SHA256:" + "a".repeat(43);
const FAKE = "SHA256:" + "f".repeat(43);

Deno.test("KnownIdentities.lookalikeOf finds a known name that reads like a new one, on that server only", async () => {
  const known = KnownIdentities.inMemory();
  assert.equal(known.lookalikeOf(SERVER, "a1ice", FAKE), null);
  await known.check(SERVER, "Alice", ALICE);
  assert.equal(known.lookalikeOf(SERVER, "a1ice", FAKE), "alice");
  assert.equal(known.lookalikeOf(SERVER, "AIice", FAKE), "alice");
  assert.equal(known.lookalikeOf(SERVER, "alice", ALICE), null);
  assert.equal(known.lookalikeOf(SERVER, "bob", FAKE), null);
  assert.equal(known.lookalikeOf(OTHER_SERVER, "a1ice", FAKE), null);
  // Once the look-alike is known too, each still reads like the other.
  await known.check(SERVER, "a1ice", FAKE);
  assert.equal(known.lookalikeOf(SERVER, "a1ice", FAKE), "alice");
  assert.equal(known.lookalikeOf(SERVER, "alice", ALICE), "a1ice");
});

Deno.test("KnownIdentities.lookalikeOf finds none under the same key: a key may hold look-alikes of its own names", async () => {
  const known = KnownIdentities.inMemory();
  await known.check(SERVER, "jojo", ALICE);
  assert.equal(known.lookalikeOf(SERVER, "j0jo", ALICE), null);
  assert.equal(known.lookalikeOf(SERVER, "j0jo", FAKE), "jojo");
});
