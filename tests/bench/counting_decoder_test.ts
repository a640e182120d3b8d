import assert from "node:assert/strict";
import { countingDecoder } from "../../bench/_counting_decoder.ts";
import { packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeCompactChat } from "../../src/protocol/compact_chat.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { JOJO, KEY, NONE, room, SOPHIA } from "../_helpers/router_room.ts";
import { connect, disconnect, route } from "../_helpers/delivered.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function batch(...messages: Uint8Array[]): Uint8Array {
  const [packed] = packBatches(messages);
  return packed!;
}

const chat = [
  encodeMessage({ t: "public", from: "a", ts: 1 }, encoder.encode("one")),
  encodeMessage(
    { t: "group", group: "g", from: "b", ts: 2 },
    encoder.encode("two"),
  ),
  encodeMessage({ t: "private", from: "c", ts: 3 }, encoder.encode("three")),
];

Deno.test("countingDecoder hands each chat message of a batch to the counter without decoding it", () => {
  const seen: [string, string][] = [];
  const decode = countingDecoder(() => (kind, plaintext, start, end) =>
    seen.push([kind, decoder.decode(plaintext.subarray(start, end))])
  );
  assert.deepEqual(decode(batch(...chat)), []);
  assert.deepEqual(seen, [
    ["public", "one"],
    ["group", "two"],
    ["private", "three"],
  ]);
});

Deno.test("countingDecoder counts compact chat messages too, mixed with JSON ones", () => {
  const seen: [string, string][] = [];
  const decode = countingDecoder(() => (kind, plaintext, start, end) =>
    seen.push([kind, decoder.decode(plaintext.subarray(start, end))])
  );
  const compact = [
    encodeCompactChat(
      { t: "group", group: "team", from: "b", ts: 2 ** 40 },
      encoder.encode("two"),
    ),
    encodeCompactChat(
      { t: "private", from: "carol", ts: 3 },
      encoder.encode(""),
    ),
    encodeCompactChat(
      { t: "public", from: "a", ts: 4 },
      encoder.encode("four"),
    ),
    // Form 6: with an id and a seq, for clients that acknowledge.
    encodeCompactChat(
      { t: "group", group: "team", from: "d", ts: 5, id: 70, seq: 8 },
      encoder.encode("five"),
      "fixed",
    ),
    // Form 9: the same with varints, for clients that asked for them.
    encodeCompactChat(
      { t: "group", group: "team", from: "e", ts: 6, id: 300, seq: 9 },
      encoder.encode("six"),
      "varint",
    ),
  ].map((m) => m!);
  assert.equal(compact[3]![0], 6);
  assert.equal(compact[4]![0], 9);
  assert.deepEqual(
    decode(
      batch(
        compact[0]!,
        chat[0]!,
        compact[1]!,
        compact[2]!,
        compact[3]!,
        compact[4]!,
      ),
    ),
    [],
  );
  assert.deepEqual(seen, [
    ["group", "two"],
    ["public", "one"],
    ["private", ""],
    ["public", "four"],
    ["group", "five"],
    ["group", "six"],
  ]);
  // A compact message with an empty name, or cut short, is decodeBatch's to
  // refuse.
  const nameless = compact[2]!.slice();
  nameless[7] = 0;
  assert.throws(() => decode(batch(nameless)), SyntaxError);
  assert.throws(() => decode(compact[0]!.subarray(0, 12)), SyntaxError);
  assert.equal(seen.length, 6);
});

Deno.test("countingDecoder decodes in full a batch with anything else in it, or when nobody counts", () => {
  const counted: string[] = [];
  const counting = countingDecoder(() => (kind) => counted.push(kind));
  const mixed = batch(chat[0]!, encodeMessage({ t: "ok", re: 7, text: "" }));
  const messages = counting(mixed);
  assert.deepEqual(messages.map((m) => m.header), [
    { t: "public", from: "a", ts: 1 },
    { t: "ok", re: 7, text: "" },
  ]);
  assert.deepEqual(counted, [], "nothing counted twice");
  const idle = countingDecoder(() => null);
  assert.equal(idle(batch(...chat)).length, 3);
});

Deno.test("countingDecoder refuses a malformed or empty batch as decodeBatch does", () => {
  const decode = countingDecoder(() => () => {});
  const truncated = batch(...chat).subarray(0, 20);
  assert.throws(() => decode(truncated), SyntaxError);
  assert.throws(() => decode(new Uint8Array(0)), SyntaxError);
});

Deno.test("countingDecoder leaves history replays to the full decoder, uncounted", () => {
  const counted: string[] = [];
  const decode = countingDecoder(() => (kind) => counted.push(kind));
  const replay = encodeMessage(
    { t: "public", from: "a", ts: 1, history: true },
    encoder.encode("old"),
  );
  assert.equal(decode(batch(chat[0]!, replay)).length, 2);
  // As the server writes one with its position: `history` last.
  const positioned = encodeMessage(
    { t: "group", group: "g", from: "a", ts: 1, id: 5, seq: 2, history: true },
    encoder.encode("old"),
  );
  assert.equal(decode(batch(chat[0]!, positioned)).length, 2);
  assert.deepEqual(counted, []);
});

Deno.test("countingDecoder frees a counted batch once its listeners have read it, and only such a batch", () => {
  const many = Array.from(
    { length: 400 },
    (_, i) =>
      encodeMessage(
        { t: "public", from: "a", ts: i },
        encoder.encode("x".repeat(40)),
      ),
  );
  const counted = batch(...many).slice();
  assert.ok(counted.byteLength >= 16 * 1024, "large enough to be freed");
  let bodies = 0;
  const decode = countingDecoder(() => (_kind, plaintext, start, end) => {
    // Readable while the listener runs.
    assert.equal(decoder.decode(plaintext.subarray(start, end)).length, 40);
    bodies++;
  });
  assert.deepEqual(decode(counted), []);
  assert.equal(bodies, 400);
  assert.equal(counted.buffer.byteLength, 0, "freed after counting");
  // A batch decoded in full keeps its bytes: its bodies are read later.
  const mixed = batch(...many, encodeMessage({ t: "ok", re: 1, text: "" }))
    .slice();
  const messages = decode(mixed);
  assert.equal(messages.length, 401);
  assert.equal(decoder.decode(messages[0]!.body).length, 40);
});

Deno.test("countingDecoder skips the reader's own lines, and only those", () => {
  const seen: string[] = [];
  const decode = countingDecoder(
    () => (_kind, plaintext, start, end) =>
      seen.push(decoder.decode(plaintext.subarray(start, end))),
    encoder.encode("me"),
  );
  const lines = batch(
    encodeCompactChat(
      { t: "public", from: "me", ts: 1, id: 1, seq: 1 },
      encoder.encode("mine"),
      "varint",
    )!,
    encodeCompactChat(
      { t: "public", from: "meg", ts: 2, id: 2, seq: 2 },
      encoder.encode("hers"),
      "varint",
    )!,
  );
  decode(lines.slice(), true);
  assert.deepEqual(seen, ["hers"]);
});

Deno.test("countingDecoder counts none of the chat messages the router sends as history: answers with req, what waited, a private with to", () => {
  const state = room();
  const say = (
    from: number,
    message: ClientMessage,
    text: string,
    now: number,
  ) => route(state, from, message, encoder.encode(text), now);
  route(state, SOPHIA, { t: "create", id: 1, group: "team" }, NONE, 10);
  route(state, JOJO, { t: "join", id: 1, group: "team" }, NONE, 11);
  say(SOPHIA, { t: "say", id: 2 }, "all", 12);
  say(SOPHIA, { t: "gsay", id: 3, group: "team" }, "g1", 13);
  disconnect(state, JOJO, 14);
  say(SOPHIA, { t: "msg", id: 4, to: "jojo" }, "dm", 15);
  const back = 20;
  connect(state, back);
  const old = [
    // What waited for jojo (no req), then the answers to his requests and
    // to sophia's (hers to jojo carries `to`).
    ...route(
      state,
      back,
      { t: "register", id: 0, name: "jojo", key: KEY },
      NONE,
      16,
    ),
    ...route(state, back, { t: "history", id: 31 }, NONE, 17),
    ...route(state, back, { t: "history", id: 32, target: "team" }, NONE, 17),
    ...route(state, back, { t: "history", id: 33, target: "sophia" }, NONE, 17),
    ...route(state, SOPHIA, { t: "history", id: 34, target: "jojo" }, NONE, 17),
  ].filter(({ message }) => "history" in message && message.history === true);
  assert.deepEqual(
    old.map(({ message }) => [
      message.t,
      "req" in message ? message.req : null,
      "to" in message ? message.to : null,
    ]),
    [
      ["private", null, null],
      ["public", 31, null],
      ["group", 32, null],
      ["private", 33, null],
      ["private", 34, "jojo"],
    ],
  );
  const counted: string[] = [];
  const decode = countingDecoder(() => (kind) => counted.push(kind));
  for (const { message, body } of old) {
    // Alone in a batch: the decoder's fast path or nothing.
    assert.equal(decode(batch(encodeMessage(message, body))).length, 1);
  }
  assert.deepEqual(counted, []);
});
