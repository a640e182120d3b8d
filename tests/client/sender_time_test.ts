import assert from "node:assert/strict";
import {
  OUT_OF_ORDER_SLACK_MS,
  SENDER_TIME_TOLERANCE_MS,
  senderTimeWarning,
  SenderTimeWarnings,
} from "../../src/client/sender_time.ts";
import { decodeContent, encodeContent } from "../../src/client/e2e_sessions.ts";

const T = 1767225600000;

Deno.test("senderTimeWarning says nothing within the tolerance, either way", () => {
  assert.equal(
    senderTimeWarning("alice", T, T + SENDER_TIME_TOLERANCE_MS),
    null,
  );
  assert.equal(
    senderTimeWarning("alice", T, T - SENDER_TIME_TOLERANCE_MS),
    null,
  );
});

Deno.test("senderTimeWarning names the sender and both times past the tolerance, held back or dated early", () => {
  for (const serverTs of [T + 60 * 60_000, T - 60 * 60_000]) {
    const warning = senderTimeWarning("alice", T, serverTs);
    assert.match(
      warning ?? "",
      /^WARNING: alice's message says it was written at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d; the server gave it the time \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: the host may have held it back or re-dated it/,
    );
  }
});

Deno.test("SenderTimeWarnings warns once per sender (names equal case aside), not at messages on time", () => {
  const warnings = new SenderTimeWarnings();
  assert.equal(warnings.after("alice", T, T + 1000), null);
  assert.notEqual(warnings.after("alice", T, T + 60 * 60_000), null);
  assert.equal(warnings.after("Alice", T, T + 60 * 60_000), null);
  assert.notEqual(warnings.after("bob", T, T + 60 * 60_000), null);
});

Deno.test("decodeContent reads type 3 (text with the sender's time) and refuses a short or out-of-range time", () => {
  const content = {
    type: "text",
    from: "alice",
    to: "bob",
    text: "héllo",
    sentAt: T,
  } as const;
  const bytes = encodeContent(content);
  assert.equal(bytes[0], 3);
  assert.deepEqual(decodeContent(bytes), content);
  // Without a time it stays type 1, as older clients read it.
  const plain = encodeContent({ type: "text", from: "a", to: "b", text: "x" });
  assert.equal(plain[0], 1);
  const names = [3, 1, 0x61, 1, 0x62];
  assert.throws(
    () => decodeContent(Uint8Array.from([...names, 0, 0, 0])),
    /sender's time is malformed/,
  );
  assert.throws(
    () => decodeContent(Uint8Array.from([...names, 0, 0x20, 0, 0, 0, 0, 0, 0])),
    /out of range/,
  );
  assert.throws(
    () => encodeContent({ ...content, sentAt: -1 }),
    RangeError,
  );
});

Deno.test("SenderTimeWarnings.order warns of a message sealed before one of the same sender shown earlier, past the slack, at each such message", () => {
  const warnings = new SenderTimeWarnings();
  assert.equal(warnings.order("alice", T), null);
  assert.equal(warnings.order("alice", T + 60_000), null);
  // Two clients of one user sealing a moment apart: not out of order.
  assert.equal(
    warnings.order("alice", T + 60_000 - OUT_OF_ORDER_SLACK_MS),
    null,
  );
  assert.match(
    warnings.order("ALICE", T) ?? "",
    /^WARNING: alice wrote that message at .*, before the one of .* shown earlier: the host delivered them out of order/i,
  );
  assert.notEqual(warnings.order("alice", T + 1000), null);
  // Another sender has an order of their own.
  assert.equal(warnings.order("bob", T), null);
});
