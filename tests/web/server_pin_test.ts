import assert from "node:assert/strict";
import {
  changedServerKeyMessage,
  checkServerKey,
  type KeyValueStore,
} from "../../src/web/server_pin.ts";

function memoryStore(): KeyValueStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
  };
}

const A = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
const B = "SHA256:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg";

Deno.test("checkServerKey remembers a new server's key and knows it again", () => {
  const store = memoryStore();
  assert.deepEqual(checkServerKey(store, "lab:8767", A), { kind: "new" });
  assert.deepEqual(checkServerKey(store, "lab:8767", A), { kind: "known" });
  assert.deepEqual(checkServerKey(store, "LAB:8767", A), { kind: "known" });
});

Deno.test("checkServerKey refuses another key and keeps the remembered one", () => {
  const store = memoryStore();
  checkServerKey(store, "lab:8767", A);
  assert.deepEqual(checkServerKey(store, "lab:8767", B), {
    kind: "changed",
    remembered: A,
  });
  assert.deepEqual(checkServerKey(store, "lab:8767", A), { kind: "known" });
  // Another port is another server.
  assert.deepEqual(checkServerKey(store, "lab:9000", B), { kind: "new" });
});

Deno.test("changedServerKeyMessage names both keys and says nothing was sent", () => {
  const text = changedServerKeyMessage("lab:8767", A, B);
  assert.ok(text.startsWith("ERROR: "));
  assert.ok(text.includes(A) && text.includes(B));
  assert.match(text, /Nothing was sent/);
});
