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
    /^4 files from this sender are coming in already/,
  );
  assert.equal(receivingRefusal("carol", theirs), null);
  assert.equal(receivingRefusal("mallory", theirs.slice(1)), null);
  const full = Array.from({ length: MAX_RECEIVING }, (_, i) => `u${i}`);
  assert.equal(
    receivingRefusal("carol", full),
    "32 files are coming in already, the most at once: send it again once one is done",
  );
});

Deno.test("receivingRefusal fits in the 100 characters of a reason the server passes on to the sender, whatever the name", () => {
  const long = "m".repeat(32);
  for (
    const why of [
      receivingRefusal(long, Array(MAX_RECEIVING_PER_SENDER).fill(long)),
      receivingRefusal(
        long,
        Array.from({ length: MAX_RECEIVING }, (_, i) => `u${i}`),
      ),
    ]
  ) {
    assert.ok(why !== null && why.length <= 100, why ?? "");
    assert.match(why, /send it again once one is done$/);
  }
});
