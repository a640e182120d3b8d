import assert from "node:assert/strict";
import {
  MAX_RECEIVING,
  MAX_RECEIVING_PER_SENDER,
  receivingRefusal,
} from "../../src/client/receiving_share.ts";

Deno.test("receivingRefusal refuses a sender past its share, names compared as the server does, and anyone past all the places", () => {
  const theirs = Array(MAX_RECEIVING_PER_SENDER).fill("Mallory");
  assert.match(
    receivingRefusal("mallory", theirs) ?? "",
    /^4 files from mallory are coming in already/,
  );
  assert.equal(receivingRefusal("carol", theirs), null);
  assert.equal(receivingRefusal("mallory", theirs.slice(1)), null);
  const full = Array.from({ length: MAX_RECEIVING }, (_, i) => `u${i}`);
  assert.equal(
    receivingRefusal("carol", full),
    "32 files are coming in already",
  );
});
