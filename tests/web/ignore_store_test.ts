import assert from "node:assert/strict";
import { IGNORED_KEY, IgnoreStore } from "../../src/web/ignore_store.ts";
import { memorySlot } from "../../src/client/text_slot.ts";

const SERVER = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
const OTHER = "SHA256:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg";
const JOJO = "SHA256:1mRj0i2VXJoxaq8dJOlZ9DxDwBkvS7cfL94Li3HCB38";

/** localStorage as an older page left it. */
function legacyStorage(text: string | null = null) {
  const map = new Map<string, string>();
  if (text !== null) map.set(IGNORED_KEY, text);
  return {
    map,
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => void map.set(key, value),
    removeItem: (key: string) => void map.delete(key),
  };
}

Deno.test("IgnoreStore keeps ignored users per server, by key, across page loads", async () => {
  const slot = memorySlot();
  const store = await IgnoreStore.load(slot, legacyStorage());
  await store.add(SERVER, { fingerprint: JOJO, name: "jojo" });
  await store.add(SERVER, { fingerprint: null, name: "ana" });
  // A new page reads what the last one kept.
  const again = await IgnoreStore.load(slot, legacyStorage());
  assert.equal(again.list(SERVER).isIgnored("jojo2", JOJO), true);
  assert.equal(again.list(SERVER).isIgnored("ana", null), true);
  assert.equal(again.list(OTHER).isIgnored("jojo", JOJO), false);
  assert.match(await slot.read() ?? "", /^# Users whose messages/);
});

Deno.test("IgnoreStore.remove shows a user again and says how many entries went", async () => {
  const slot = memorySlot();
  const store = await IgnoreStore.load(slot, legacyStorage());
  await store.add(SERVER, { fingerprint: JOJO, name: "jojo" });
  assert.equal(await store.remove(SERVER, "jojo", JOJO), 1);
  assert.equal(await store.remove(SERVER, "jojo", JOJO), 0);
  assert.equal(
    (await IgnoreStore.load(slot, legacyStorage())).list(SERVER).isIgnored(
      "jojo",
      JOJO,
    ),
    false,
  );
});

Deno.test("IgnoreStore.add keeps what another page added since this one read the list", async () => {
  const slot = memorySlot();
  const one = await IgnoreStore.load(slot, legacyStorage());
  const other = await IgnoreStore.load(slot, legacyStorage());
  await one.add(SERVER, { fingerprint: null, name: "ana" });
  await other.add(SERVER, { fingerprint: null, name: "bo" });
  const names = (await IgnoreStore.load(slot, legacyStorage())).list(SERVER)
    .entries().map((e) => e.name);
  assert.deepEqual(names.sort(), ["ana", "bo"]);
  // And the page that added later sees both.
  assert.equal(other.list(SERVER).isIgnored("ana", null), true);
});

Deno.test("IgnoreStore.load moves the list an older page left in localStorage", async () => {
  const slot = memorySlot();
  const older = await IgnoreStore.load(slot, legacyStorage());
  await older.add(SERVER, { fingerprint: JOJO, name: "jojo" });
  const text = await slot.read();
  const fresh = memorySlot();
  const legacy = legacyStorage(text);
  const store = await IgnoreStore.load(fresh, legacy);
  assert.equal(store.list(SERVER).isIgnored("jojo", JOJO), true);
  assert.equal(await fresh.read(), text);
  assert.equal(legacy.map.has(IGNORED_KEY), false);
  // What the slot keeps wins over what is left in localStorage.
  const stale = await IgnoreStore.load(fresh, legacyStorage("# stale\n"));
  assert.equal(stale.list(SERVER).isIgnored("jojo", JOJO), true);
});
