import assert from "node:assert/strict";
import { OfferAnswers } from "../../src/client/offer_answers.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";

const offer = (xfer: number, timeout = 60_000): FileOfferNotice => ({
  t: "file_offer",
  xfer,
  from: "jojo",
  name: "a.txt",
  size: 3,
  timeout,
});

Deno.test("OfferAnswers takes answers by transfer number, in any order, and refuses unknown ones", async () => {
  const answers = new OfferAnswers();
  const first = answers.wait(offer(1));
  const second = answers.wait(offer(2));
  assert.equal(answers.answer(2, false), true);
  assert.equal(answers.answer(1, true), true);
  assert.equal(await first, "accept");
  assert.equal(await second, "decline");
  assert.equal(answers.answer(1, true), false, "already answered");
  assert.equal(answers.answer(99, true), false);
});

Deno.test("OfferAnswers counts an offer unanswered by its deadline as timed out, and withdraws on close", async () => {
  const answers = new OfferAnswers();
  const late = answers.wait(offer(1, 10));
  assert.equal(await late, "timeout");
  const open = answers.wait(offer(2));
  answers.close();
  assert.equal(await open, "withdrawn");
});
