import assert from "node:assert/strict";
import { highlightMentions, mentions } from "../../src/client/mentions.ts";

Deno.test("mentions finds @name of the reader in any case, not inside words or addresses", () => {
  assert.equal(mentions("hi @sophia", "sophia"), true);
  assert.equal(mentions("hi @Sophia!", "sophia"), true);
  assert.equal(mentions("thanks @sophia.", "sophia"), true);
  assert.equal(mentions("hi @sophia2", "sophia"), false);
  assert.equal(mentions("mail me@sophia", "sophia"), false);
  assert.equal(mentions("hi sophia", "sophia"), false);
  assert.equal(mentions("hi @jojo", "sophia"), false);
  assert.equal(mentions("@so.phia", "so.phia"), true);
});

Deno.test("highlightMentions wraps each mention in reverse bold only with colour", () => {
  assert.equal(
    highlightMentions("@sophia and @SOPHIA, hi", "sophia", true),
    "\x1b[1;7m@sophia\x1b[0m and \x1b[1;7m@SOPHIA\x1b[0m, hi",
  );
  assert.equal(highlightMentions("hi @sophia", "sophia", false), "hi @sophia");
  assert.equal(highlightMentions("no one", "sophia", true), "no one");
});
