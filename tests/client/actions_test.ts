import assert from "node:assert/strict";
import { actionBody, actionOf } from "../../src/client/actions.ts";

Deno.test("actionOf reads the action of a /me body and nothing else", () => {
  assert.equal(actionOf(actionBody("waves")), "waves");
  assert.equal(actionOf("/me waves at @jojo"), "waves at @jojo");
  assert.equal(actionOf("/me "), null);
  assert.equal(actionOf("/meh"), null);
  assert.equal(actionOf("hello /me waves"), null);
});
