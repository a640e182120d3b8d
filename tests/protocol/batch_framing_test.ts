import assert from "node:assert/strict";
import {
  batchBytes,
  batchEnd,
  decodeBatch,
  packBatches,
  packInto,
} from "../../src/protocol/batch_framing.ts";
import { encodeCompactChat } from "../../src/protocol/compact_chat.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { parseServerMessage } from "../../src/protocol/parse_server_message.ts";
import {
  MAX_BATCH_BYTES,
  MAX_HEADER_BYTES,
} from "../../src/protocol/limits.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("encodeMessage and decodeBatch round-trip several messages in one batch", () => {
  const a = encodeMessage({ t: "say", id: 1 }, text("hi"));
  const b = encodeMessage({ t: "list", id: 2 });
  const [batch] = packBatches([a, b]);
  const decoded = decodeBatch(batch!);
  assert.equal(decoded.length, 2);
  assert.deepEqual(decoded[0]!.header, { t: "say", id: 1 });
  assert.deepEqual([...decoded[0]!.body], [...text("hi")]);
  assert.deepEqual(decoded[1]!.header, { t: "list", id: 2 });
  assert.equal(decoded[1]!.body.byteLength, 0);
});

Deno.test("decodeBatch rejects empty, truncated, oversized and malformed batches", () => {
  const good = encodeMessage({ t: "say", id: 1 }, text("hello"));
  assert.throws(() => decodeBatch(new Uint8Array(0)), SyntaxError);
  assert.throws(() => decodeBatch(good.subarray(0, 5)), SyntaxError);
  assert.throws(
    () => decodeBatch(good.subarray(0, good.byteLength - 1)),
    SyntaxError,
  );
  assert.throws(
    () => decodeBatch(new Uint8Array(MAX_BATCH_BYTES + 1)),
    SyntaxError,
  );
  const zeroHeader = new Uint8Array(8);
  assert.throws(() => decodeBatch(zeroHeader), SyntaxError);
  const huge = new Uint8Array(8);
  new DataView(huge.buffer).setUint32(0, MAX_HEADER_BYTES + 1);
  assert.throws(() => decodeBatch(huge), SyntaxError);
  const badJson = new Uint8Array(8 + 3);
  new DataView(badJson.buffer).setUint32(0, 3);
  badJson.set(text("{x}"), 8);
  assert.throws(() => decodeBatch(badJson), SyntaxError);
  const badUtf8 = new Uint8Array(8 + 2);
  new DataView(badUtf8.buffer).setUint32(0, 2);
  badUtf8.set([0xc3, 0x28], 8);
  assert.throws(() => decodeBatch(badUtf8), TypeError);
});

Deno.test("decodeBatch reads compact and JSON messages side by side, the same headers either way", () => {
  const live = [
    { t: "public", from: "alice", ts: 1767225600000 },
    { t: "private", from: "bob", ts: 2 ** 48 - 1 },
    { t: "group", group: "team", from: "carol", ts: 7 },
  ] as const;
  const [batch] = packBatches([
    encodeCompactChat(live[0], text("one"))!,
    encodeMessage({ t: "ok", re: 3, text: "fine" }),
    encodeCompactChat(live[1], text(""))!,
    encodeCompactChat(live[2], text("three"))!,
    encodeMessage(live[0], text("json")),
  ]);
  const decoded = decodeBatch(batch!);
  assert.deepEqual(decoded.map((m) => m.header), [
    live[0],
    { t: "ok", re: 3, text: "fine" },
    live[1],
    live[2],
    live[0],
  ]);
  assert.deepEqual(
    decoded.map((m) => new TextDecoder().decode(m.body)),
    ["one", "", "", "three", "json"],
  );
  for (const { header } of decoded) parseServerMessage(header);
});

Deno.test("packBatches splits at the limit and keeps message order", () => {
  const messages = Array.from(
    { length: 10 },
    (_, i) => encodeMessage({ t: "say", id: i }, new Uint8Array(100)),
  );
  const size = messages[0]!.byteLength;
  const batches = packBatches(messages, size * 3);
  assert.deepEqual(batches.map((b) => b.byteLength / size), [3, 3, 3, 1]);
  const ids = batches.flatMap((b) =>
    decodeBatch(b).map((m) => (m.header as { id: number }).id)
  );
  assert.deepEqual(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("batchEnd, batchBytes and packInto make packBatches' batches in a buffer of the caller's", () => {
  const messages = [1, 20, 3, 40, 5].map((n, i) =>
    encodeMessage({ t: "say", id: i }, new Uint8Array(n).fill(i))
  );
  const sizes = messages.map((m) => m.byteLength);
  const limit = sizes[0]! + sizes[1]! + sizes[2]!;
  assert.equal(batchEnd(messages, 0, limit), 3);
  assert.equal(batchEnd(messages, 3, limit), 5);
  // One message over the limit still makes a batch of its own.
  assert.equal(batchEnd(messages, 1, 1), 2);
  assert.equal(batchBytes(messages, 0, 3), limit);
  assert.equal(batchBytes(messages, 2, 2), 0);
  const batches = packBatches(messages, limit);
  let start = 0;
  for (const batch of batches) {
    const end = batchEnd(messages, start, limit);
    const out = new Uint8Array(5 + batchBytes(messages, start, end) + 3);
    const after = packInto(messages, start, end, out, 5);
    assert.equal(after, out.length - 3);
    assert.deepEqual(out.subarray(5, after), batch);
    assert.ok(out.subarray(0, 5).every((b) => b === 0));
    assert.ok(out.subarray(after).every((b) => b === 0));
    start = end;
  }
  assert.equal(start, messages.length);
});
