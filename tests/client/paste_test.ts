import assert from "node:assert/strict";
import {
  decideBurst,
  MAX_UNASKED_LINES,
  pasteConfirmed,
} from "../../src/client/paste.ts";

Deno.test("decideBurst sends up to three lines and asks about more", () => {
  assert.equal(MAX_UNASKED_LINES, 3);
  assert.deepEqual(decideBurst(["a"]), { kind: "send" });
  assert.deepEqual(decideBurst(["a", "b", "c"]), { kind: "send" });
  assert.deepEqual(decideBurst(["1", "2", "3", "4", "5", "6", "7"]), {
    kind: "ask",
    question: "Send 7 lines? [y/N] ",
  });
});

Deno.test("pasteConfirmed takes y or yes only", () => {
  assert.equal(pasteConfirmed("y"), true);
  assert.equal(pasteConfirmed(" YES "), true);
  assert.equal(pasteConfirmed(""), false);
  assert.equal(pasteConfirmed("n"), false);
  assert.equal(pasteConfirmed("yeah"), false);
});
