import assert from "node:assert/strict";
import { OwnKeysOnServer } from "../../src/client/own_keys_on_server.ts";

Deno.test("OwnKeysOnServer counts the keys until a publish is refused, and for good once one was taken", () => {
  const asked = new OwnKeysOnServer();
  assert.equal(asked.usesKeys, true);
  asked.refused();
  assert.equal(asked.usesKeys, false);
  asked.held(); // a later top-up taken
  assert.equal(asked.usesKeys, true);
  asked.refused(); // the server keeps what it took
  assert.equal(asked.usesKeys, true);
});
