import assert from "node:assert/strict";
import { IGNORED_KEY, IgnoreStore } from "../../src/web/ignore_store.ts";
import type { KeyValueStore } from "../../src/web/server_pin.ts";

const SERVER = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
const OTHER = "SHA256:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg";
const JOJO = "SHA256:1mRj0i2VXJoxaq8dJOlZ9DxDwBkvS7cfL94Li3HCB38";

function memoryStore(): KeyValueStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
  };
}

Deno.test("IgnoreStore keeps ignored users per server, by key, across page loads", () => {
  const storage = memoryStore();
  const store = new IgnoreStore(storage);
  store.add(SERVER, { fingerprint: JOJO, name: "jojo" });
  store.add(SERVER, { fingerprint: null, name: "ana" });
  // A new page reads what the last one kept.
  const again = new IgnoreStore(storage);
  assert.equal(again.list(SERVER).isIgnored("jojo2", JOJO), true);
  assert.equal(again.list(SERVER).isIgnored("ana", null), true);
  assert.equal(again.list(OTHER).isIgnored("jojo", JOJO), false);
  assert.match(storage.map.get(IGNORED_KEY) ?? "", /^# Users whose messages/);
});

Deno.test("IgnoreStore.remove shows a user again and says how many entries went", () => {
  const storage = memoryStore();
  const store = new IgnoreStore(storage);
  store.add(SERVER, { fingerprint: JOJO, name: "jojo" });
  assert.equal(store.remove(SERVER, "jojo", JOJO), 1);
  assert.equal(store.remove(SERVER, "jojo", JOJO), 0);
  assert.equal(
    new IgnoreStore(storage).list(SERVER).isIgnored("jojo", JOJO),
    false,
  );
});
