import assert from "node:assert/strict";
import {
  changedServerKeyMessage,
  decideServerKey,
  serverKeyName,
} from "../../src/web/server_pin.ts";

const A = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
const B = "SHA256:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg";

Deno.test("decideServerKey takes a key as new when none is remembered, and knows it again", () => {
  assert.deepEqual(decideServerKey(null, A), { kind: "new" });
  assert.deepEqual(decideServerKey(A, A), { kind: "known" });
});

Deno.test("decideServerKey refuses another key than the remembered one", () => {
  assert.deepEqual(decideServerKey(A, B), { kind: "changed", remembered: A });
});

Deno.test("serverKeyName is one per host and port, whatever the case", () => {
  assert.equal(serverKeyName("LAB:8767"), serverKeyName("lab:8767"));
  assert.notEqual(serverKeyName("lab:9000"), serverKeyName("lab:8767"));
});

Deno.test("changedServerKeyMessage names both keys and says nothing was sent", () => {
  const text = changedServerKeyMessage("lab:8767", A, B);
  assert.ok(text.startsWith("ERROR: "));
  assert.ok(text.includes(A) && text.includes(B));
  assert.match(text, /Nothing was sent/);
});
