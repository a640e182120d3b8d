import assert from "node:assert/strict";
import {
  HELD_REPLIES_NOTICE,
  HeldRepliesNotice,
  NEW_WAIT_AFTER_MS,
} from "../../src/client/held_replies_notice.ts";

Deno.test("HeldRepliesNotice says a wait once, at its first alive, and a later wait again", () => {
  const notice = new HeldRepliesNotice();
  assert.equal(notice.alive(1_000, 1), HELD_REPLIES_NOTICE);
  // One wait: an alive every 10 s, for a minute.
  for (let at = 11_000; at <= 61_000; at += 10_000) {
    assert.equal(notice.alive(at, 3), null);
  }
  // The replies flowed; a new wait, long after.
  assert.equal(
    notice.alive(61_000 + NEW_WAIT_AFTER_MS + 1, 1),
    HELD_REPLIES_NOTICE,
  );
});

Deno.test("HeldRepliesNotice says nothing for an alive while nothing the client sent is unanswered, and says a wait that begins after it", () => {
  const notice = new HeldRepliesNotice();
  // A server that sends alive unasked (hostile, or broken), every 10 s:
  // no message of ours waits, and the client must not say one does.
  for (let at = 1_000; at <= 61_000; at += 10_000) {
    assert.equal(notice.alive(at, 0), null, `at ${at}`);
  }
  // Then a line waits: its first alive is said, though within 25 s of the
  // last unasked one.
  assert.equal(notice.alive(71_000, 1), HELD_REPLIES_NOTICE);
  assert.equal(notice.alive(81_000, 1), null);
});
