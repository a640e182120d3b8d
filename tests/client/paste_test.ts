import assert from "node:assert/strict";
import {
  decideBurst,
  linesSent,
  MAX_UNASKED_LINES,
  oneKeyAnswer,
  pasteConfirmed,
  pasteDropped,
  pasteQuestion,
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

Deno.test("decideBurst counts only the lines that would be sent", () => {
  // Three lines between blank ones: sent without asking.
  assert.deepEqual(decideBurst(["", "a", "", " ", "b", "", "c", "\t", ""]), {
    kind: "send",
  });
  assert.deepEqual(decideBurst(["", "", "", "", ""]), { kind: "send" });
  assert.deepEqual(decideBurst(["1", "", "2", "", "3", "", "4", ""]), {
    kind: "ask",
    question: "Send 4 lines? [y/N] ",
  });
  assert.equal(linesSent(["", "a", "  ", "b"]), 2);
});

Deno.test("pasteConfirmed takes y or yes only", () => {
  assert.equal(pasteConfirmed("y"), true);
  assert.equal(pasteConfirmed(" YES "), true);
  assert.equal(pasteConfirmed(""), false);
  assert.equal(pasteConfirmed("n"), false);
  assert.equal(pasteConfirmed("yeah"), false);
});

Deno.test("pasteQuestion and pasteDropped say one line in the singular", () => {
  assert.equal(pasteQuestion(1), "Send 1 line? [y/N] ");
  assert.equal(pasteQuestion(2), "Send 2 lines? [y/N] ");
  assert.equal(pasteDropped(1), "Not sent: the pasted line");
  assert.equal(pasteDropped(5), "Not sent: the 5 pasted lines");
});

Deno.test("oneKeyAnswer takes y as yes and n, Enter, Escape or any other one key as no (an Enter right behind too), never more text", () => {
  for (const keys of ["y", "Y", "y\r", "Y\n"]) {
    assert.equal(oneKeyAnswer(keys), "yes", JSON.stringify(keys));
  }
  for (
    const keys of ["n", "N", "n\r", "\r", "\n", "\x1b", "x", "q\r", "7", "é"]
  ) {
    assert.equal(oneKeyAnswer(keys), "no", JSON.stringify(keys));
  }
  for (
    const keys of ["yes", "yes\r", "you there?", "yy", "", "\x1b[A", "\x7f"]
  ) {
    assert.equal(oneKeyAnswer(keys), null, JSON.stringify(keys));
  }
});

Deno.test("oneKeyAnswer takes one key of several code points (an accent typed apart, an emoji with its skin tone, a flag) as no, an Enter behind it too", () => {
  for (
    const keys of [
      "e\u0301",
      "\u{1f44d}\u{1f3fd}",
      "\u{1f1eb}\u{1f1f7}",
      "e\u0301\r",
    ]
  ) {
    assert.equal(oneKeyAnswer(keys), "no", JSON.stringify(keys));
  }
  // Two keys are still text typed, not an answer.
  assert.equal(oneKeyAnswer("e\u0301e\u0301"), null);
});
