import assert from "node:assert/strict";
import {
  HELD_REPLIES_NOTICE,
  HeldRepliesNotice,
  NEW_WAIT_AFTER_MS,
} from "../../src/client/held_replies_notice.ts";

Deno.test("HeldRepliesNotice says a wait once, at its first alive, and a later wait again", () => {
  const notice = new HeldRepliesNotice();
  assert.equal(notice.alive(1_000), HELD_REPLIES_NOTICE);
  // One wait: an alive every 10 s, for a minute.
  for (let at = 11_000; at <= 61_000; at += 10_000) {
    assert.equal(notice.alive(at), null);
  }
  // The replies flowed; a new wait, long after.
  assert.equal(
    notice.alive(61_000 + NEW_WAIT_AFTER_MS + 1),
    HELD_REPLIES_NOTICE,
  );
});
