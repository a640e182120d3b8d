import assert from "node:assert/strict";
import { reasonForSender } from "../../src/client/reason_for_sender.ts";
import { receivingRefusal } from "../../src/client/receiving_share.ts";
import { MAX_DECLINED_REASON_CHARS } from "../../src/protocol/limits.ts";

Deno.test("reasonForSender keeps a reason that fits the server's cut as it is", () => {
  const fits = "x".repeat(MAX_DECLINED_REASON_CHARS);
  assert.equal(reasonForSender(fits), fits);
  assert.equal(reasonForSender("declined"), "declined");
});

Deno.test("reasonForSender cuts a longer reason at a word and ends it with '...', within the cut", () => {
  const long =
    "Cannot take this file because the folder where downloads go is full, and nothing more fits in it now, not even a small one";
  assert.ok(long.length > MAX_DECLINED_REASON_CHARS);
  const cut = reasonForSender(long);
  assert.ok(cut.length <= MAX_DECLINED_REASON_CHARS, cut);
  assert.ok(cut.endsWith("..."), cut);
  // At a word: what stays before "..." is a start of the reason ending at
  // a space of it.
  const kept = cut.slice(0, -3);
  assert.ok(long.startsWith(kept), cut);
  assert.equal(long[kept.length], " ", cut);
  // One long word (a file's name): cut inside it, at the limit.
  const word = reasonForSender("n".repeat(300));
  assert.equal(word, "n".repeat(MAX_DECLINED_REASON_CHARS - 3) + "...");
});

Deno.test("the receiving share's refusals fit the server's cut whole", () => {
  const senders = Array.from({ length: 32 }, (_, i) => `s${i % 8}`);
  for (
    const text of [
      receivingRefusal("s0", senders),
      receivingRefusal("s0", ["s0", "s0", "s0", "s0"]),
    ]
  ) {
    assert.ok(text !== null);
    assert.ok(text.length <= MAX_DECLINED_REASON_CHARS, text);
  }
});
