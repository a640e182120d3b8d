import assert from "node:assert/strict";
import {
  didYouMean,
  editDistance,
  onlyOneClose,
} from "../../src/client/did_you_mean.ts";

Deno.test("editDistance counts a swap of neighbours as one edit", () => {
  assert.equal(editDistance("/mgs", "/msg"), 1);
  assert.equal(editDistance("/ms", "/msg"), 1);
  assert.equal(editDistance("/MSG", "/msg"), 0);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("", "abc"), 3);
});

Deno.test("didYouMean suggests the closest command within two edits, else null", () => {
  const commands = ["/msg", "/group", "/list", "/leave", "/quit"];
  assert.equal(didYouMean("/mgs", commands), "/msg");
  assert.equal(didYouMean("/lsit", commands), "/list");
  assert.equal(didYouMean("/gruop", commands), "/group");
  assert.equal(didYouMean("/xyzzy", commands), null);
  // One letter is no evidence of a slip.
  assert.equal(didYouMean("/q", commands), null);
});

Deno.test("onlyOneClose gives the one candidate a slip away, and none when two are", () => {
  assert.equal(onlyOneClose("jojp", ["sophia", "jojo", "nana"]), "jojo");
  assert.equal(onlyOneClose("JOJP", ["jojo"]), "jojo");
  assert.equal(onlyOneClose("jojp", ["jojo", "jojq"]), null);
  assert.equal(onlyOneClose("nobody", ["jojo", "sophia"]), null);
  // As didYouMean: one letter is no evidence of a slip.
  assert.equal(onlyOneClose("j", ["jo"]), null);
});
