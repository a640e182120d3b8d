import assert from "node:assert/strict";
import {
  batchBytes,
  batchEnd,
  decodeBatch,
  encodeCompactChat,
  encodeMessage,
  isKnownServerType,
  MESSAGE_OVERHEAD,
  packBatches,
  packInto,
  parseClientMessage,
  parseServerMessage,
  SharedBatchPacker,
} from "../../src/protocol/codec.ts";
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

Deno.test("encodeMessage lays out lengths big-endian before header and body", () => {
  const encoded = encodeMessage({ t: "bye" }, text("xyz"));
  const view = new DataView(encoded.buffer);
  const header = '{"t":"bye"}';
  assert.equal(view.getUint32(0), header.length);
  assert.equal(view.getUint32(4), 3);
  assert.equal(
    new TextDecoder().decode(encoded.subarray(8, 8 + header.length)),
    header,
  );
  assert.equal(encoded.byteLength, MESSAGE_OVERHEAD + header.length + 3);
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

Deno.test("encodeCompactChat lays out a live chat message as PROTOCOL.md 4.1 says", () => {
  const hex = (bytes: Uint8Array | null) =>
    [...bytes!].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const ts = 0x0102_0304_0506;
  assert.equal(
    hex(encodeCompactChat({ t: "public", from: "al", ts }, text("hi"))),
    "01 01 02 03 04 05 06 02 61 6c 00 00 00 02 68 69",
  );
  assert.equal(
    hex(encodeCompactChat({ t: "private", from: "b", ts: 0 })),
    "02 00 00 00 00 00 00 01 62 00 00 00 00",
  );
  // The worked example of PROTOCOL.md section 9.
  assert.equal(
    hex(
      encodeCompactChat(
        { t: "public", from: "alice", ts: 1767225600000 },
        text("Hello!"),
      ),
    ),
    "01 01 9b 76 da a8 00 05 61 6c 69 63 65 00 00 00 06 48 65 6c 6c 6f 21",
  );
  assert.equal(
    hex(
      encodeCompactChat(
        { t: "group", group: "team", from: "alice", ts: 1767225600123 },
        text("Hi"),
      ),
    ),
    "03 01 9b 76 da a8 7b 05 61 6c 69 63 65 04 74 65 61 6d 00 00 00 02 48 69",
  );
  // Group: the sender, then the group.
  assert.equal(
    hex(encodeCompactChat({ t: "group", group: "g", from: "é", ts: 1 })),
    "03 00 00 00 00 00 01 02 c3 a9 01 67 00 00 00 00",
  );
});

Deno.test("encodeCompactChat leaves everything but a live chat message to JSON", () => {
  for (
    const message of [
      { t: "ok", re: 1, text: "" },
      { t: "presence", name: "a", online: true },
      { t: "public", from: "a", ts: 1, history: true },
      { t: "private", from: "a", ts: 1, history: true, to: "b" },
      { t: "public", from: "", ts: 1 },
      { t: "public", from: "x".repeat(256), ts: 1 },
      { t: "public", from: "\ud800", ts: 1 },
      { t: "group", group: "", from: "a", ts: 1 },
      { t: "public", from: "a", ts: 2 ** 48 },
      { t: "public", from: "a", ts: -1 },
    ] as const
  ) {
    assert.equal(encodeCompactChat(message), null, JSON.stringify(message));
  }
  assert.ok(encodeCompactChat({ t: "public", from: "x".repeat(255), ts: 1 }));
  assert.ok(encodeCompactChat({ t: "public", from: "a", ts: 2 ** 48 - 1 }));
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

Deno.test("decodeBatch refuses a malformed compact message, and the whole batch with it", () => {
  const good = encodeCompactChat(
    { t: "group", group: "team", from: "carol", ts: 7 },
    text("body"),
  )!;
  const broken = (change: (bytes: Uint8Array) => void) => {
    const bytes = good.slice();
    change(bytes);
    return bytes;
  };
  for (
    const [why, batch] of [
      ["unknown form", broken((b) => (b[0] = 4))],
      ["form 0xff", broken((b) => (b[0] = 0xff))],
      ["empty sender", broken((b) => (b[7] = 0))],
      ["sender past the end", broken((b) => (b[7] = 250))],
      ["empty group", broken((b) => (b[13] = 0))],
      ["body past the end", broken((b) => (b[21] = 5))],
      ["invalid UTF-8 name", broken((b) => (b[8] = 0xff))],
      ["cut in the ts", good.subarray(0, 5)],
      ["cut before the body length", good.subarray(0, 20)],
      ["cut in the body", good.subarray(0, good.byteLength - 1)],
    ] as const
  ) {
    assert.throws(
      () => decodeBatch(concat(encodeMessage({ t: "pong", re: 1 }), batch)),
      (e) => e instanceof SyntaxError || e instanceof TypeError,
      why,
    );
  }
  assert.equal(decodeBatch(good).length, 1);
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

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

Deno.test("SharedBatchPacker packs the same messages once for every recipient, and only those", () => {
  const [a, b, c] = [1, 2, 3].map((i) =>
    encodeMessage({ t: "say", id: i }, text(`message ${i}`))
  ) as [Uint8Array, Uint8Array, Uint8Array];
  const packer = new SharedBatchPacker(2);
  const first = packer.pack([a, b, c]);
  assert.deepEqual(first, packBatches([a, b, c]));
  // Another recipient's queue holding the same messages gets the same batch,
  // even in an array of its own.
  assert.equal(packer.pack([a, b, c])[0], first[0]);
  // A different list (a sender does not get its own message back), an equal
  // copy of a message, or another order: packed on their own.
  for (const list of [[a, c], [a, b, c.slice()], [b, a, c]]) {
    const batches = packer.pack(list);
    assert.notEqual(batches[0], first[0]);
    assert.deepEqual(batches, packBatches(list));
  }
  // It remembers the last two lists only.
  assert.notEqual(packer.pack([a, b, c])[0], first[0]);
});

Deno.test("SharedBatchPacker passes one message through, and remembers single batches until the turn's microtasks are done", async () => {
  const message = encodeMessage({ t: "say", id: 1 }, new Uint8Array(100));
  const size = message.byteLength;
  const packer = new SharedBatchPacker(4, size * 2);
  assert.equal(packer.pack([message])[0], message);
  // Three messages make two batches: not remembered.
  const three = [message, message, message];
  const batches = packer.pack(three);
  assert.equal(batches.length, 2);
  assert.notEqual(packer.pack(three)[0], batches[0]);
  // Two make one batch: remembered through the microtasks queued before it
  // (the other recipients' flushes), forgotten after.
  const two = [message, message];
  let during: Uint8Array | undefined;
  queueMicrotask(() => (during = packer.pack(two)[0]));
  const first = packer.pack(two)[0];
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(during, first);
  assert.notEqual(packer.pack(two)[0], first);
});

Deno.test("SharedBatchPacker.packed leaves a list the first recipient's to pack, packs it once when another asks in the same turn, and forgets it after", async () => {
  const [a, b, c] = [1, 2, 3].map((i) =>
    encodeMessage({ t: "say", id: i }, text(`message ${i}`))
  ) as [Uint8Array, Uint8Array, Uint8Array];
  const packer = new SharedBatchPacker(2);
  const list = [a, b, c];
  assert.equal(packer.packed(list), null);
  const second = packer.packed([a, b, c]);
  assert.ok(second !== null);
  assert.deepEqual(second, packBatches(list)[0]);
  assert.equal(packer.packed([a, b, c]), second);
  // pack() finds the same batch, and packed() finds one pack() made.
  assert.equal(packer.pack([a, b, c])[0], second);
  const packedBefore = packer.pack([b, c]);
  assert.equal(packer.packed([b, c]), packedBefore[0]);
  // Other lists are not taken for it.
  assert.equal(packer.packed([a, c]), null);
  assert.equal(packer.packed([a, b, c.slice()]), null);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(packer.packed([a, c]), null, "forgotten after the turn");
});

Deno.test("parseClientMessage accepts every client message type", () => {
  assert.deepEqual(
    parseClientMessage({ t: "register", id: 1, name: "nana", key: "k" }),
    { t: "register", id: 1, name: "nana", key: "k" },
  );
  assert.deepEqual(
    parseClientMessage({
      t: "register",
      id: 1,
      name: "nana",
      key: "k",
      compact: true,
    }),
    { t: "register", id: 1, name: "nana", key: "k", compact: true },
  );
  assert.deepEqual(parseClientMessage({ t: "prove", id: 2, signature: "s" }), {
    t: "prove",
    id: 2,
    signature: "s",
  });
  assert.deepEqual(parseClientMessage({ t: "ping", id: 3 }), {
    t: "ping",
    id: 3,
  });
  assert.deepEqual(parseClientMessage({ t: "msg", id: 2, to: "jojo" }), {
    t: "msg",
    id: 2,
    to: "jojo",
  });
  assert.deepEqual(parseClientMessage({ t: "members", id: 3 }), {
    t: "members",
    id: 3,
  });
  assert.deepEqual(parseClientMessage({ t: "members", id: 3, group: "g" }), {
    t: "members",
    id: 3,
    group: "g",
  });
  assert.deepEqual(parseClientMessage({ t: "bye" }), { t: "bye" });
  // Unknown extra fields are dropped, not passed along.
  assert.deepEqual(parseClientMessage({ t: "say", id: 4, evil: true }), {
    t: "say",
    id: 4,
  });
});

Deno.test("parseClientMessage rejects unknown types and missing or wrong-typed fields", () => {
  for (
    const bad of [
      null,
      [],
      "say",
      {},
      { t: "nope", id: 1 },
      { t: "say" },
      { t: "say", id: -1 },
      { t: "say", id: 1.5 },
      { t: "say", id: 2 ** 53 },
      { t: "say", id: "1" },
      { t: "msg", id: 1 },
      { t: "msg", id: 1, to: 5 },
      { t: "register", id: 1, name: "x".repeat(300) },
      { t: "register", id: 1, name: "a", key: "k", compact: 1 },
      { t: "members", id: 1, group: null },
    ]
  ) {
    assert.throws(
      () => parseClientMessage(bad),
      TypeError,
      JSON.stringify(bad),
    );
  }
});

Deno.test("parseServerMessage validates nested lists and maps unknown error codes to internal", () => {
  assert.deepEqual(
    parseServerMessage({
      t: "users",
      re: 1,
      users: [{ name: "a", lastMessageAt: null }],
    }),
    { t: "users", re: 1, users: [{ name: "a", lastMessageAt: null }] },
  );
  assert.throws(
    () => parseServerMessage({ t: "users", re: 1, users: [{ name: 1 }] }),
    TypeError,
  );
  assert.equal(
    (parseServerMessage({
      t: "error",
      re: null,
      code: "weird",
      text: "ERROR: x",
    }) as { code: string }).code,
    "internal",
  );
  assert.throws(
    () => parseServerMessage({ t: "bye", reason: "whatever", text: "" }),
    TypeError,
  );
});

Deno.test("decodeBatch reads ASCII, non-ASCII and long headers alike, and still refuses invalid UTF-8", () => {
  const headers = [
    { t: "error", id: 1, code: "internal", text: "plain ascii" },
    { t: "error", id: 2, code: "internal", text: "café, 名前, 🙂" },
    { t: "error", id: 3, code: "internal", text: "x".repeat(600) },
    { t: "error", id: 4, code: "internal", text: "é" + "y".repeat(600) },
  ];
  const [batch] = packBatches(
    headers.map((header) => encodeMessage(header as never)),
  );
  assert.deepEqual(decodeBatch(batch!).map((m) => m.header), headers);

  // A short header with a byte that is not valid UTF-8 (0xff) is refused,
  // as a long one is.
  for (const padding of [0, 600]) {
    const json = text(`{"t":"error","text":"${"z".repeat(padding)}?"}`);
    json[json.length - 3] = 0xff;
    const message = new Uint8Array(MESSAGE_OVERHEAD + json.length);
    new DataView(message.buffer).setUint32(0, json.length);
    message.set(json, MESSAGE_OVERHEAD);
    assert.throws(() => decodeBatch(message), TypeError, `padding ${padding}`);
  }
});

Deno.test("encodeMessage writes ASCII, non-ASCII and long headers alike, byte for byte what TextEncoder gives", () => {
  const body = new TextEncoder().encode("body");
  const headers = [
    { t: "public", from: "sophia", ts: 1 },
    { t: "public", from: "zoë 🎉", ts: 2 },
    { t: "public", from: "x".repeat(600), ts: 3 },
  ] as const;
  for (const header of headers) {
    const encoded = encodeMessage(header as never, body);
    const json = new TextEncoder().encode(JSON.stringify(header));
    const view = new DataView(encoded.buffer);
    assert.equal(view.getUint32(0), json.length);
    assert.equal(view.getUint32(4), body.length);
    assert.deepEqual(encoded.subarray(8, 8 + json.length), json);
    const [message] = decodeBatch(encoded);
    assert.deepEqual(message!.header, header);
    assert.deepEqual(message!.body, body);
  }
});

Deno.test("encodeCompactChat puts id and seq in forms 4-6 only for readers that acknowledge", () => {
  const hex = (bytes: Uint8Array | null) =>
    [...bytes!].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const ts = 0x0102_0304_0506;
  const message = { t: "public", from: "al", ts, id: 1234, seq: 56 } as const;
  // The example of PROTOCOL.md 4.1.
  assert.equal(
    hex(encodeCompactChat(message, text("hi"), "fixed")),
    "04 01 02 03 04 05 06 00 00 00 00 04 d2 00 00 00 00 00 38 02 61 6c " +
      "00 00 00 02 68 69",
  );
  // Without: form 1, position left out.
  assert.equal(
    hex(encodeCompactChat(message, text("hi"))),
    "01 01 02 03 04 05 06 02 61 6c 00 00 00 02 68 69",
  );
  const group = encodeCompactChat(
    { t: "group", group: "g", from: "a", ts: 1, id: 2 ** 48 - 1, seq: 3 },
    text("x"),
    "fixed",
  );
  assert.equal(group?.[0], 6);
  const [decoded] = decodeBatch(group!);
  assert.deepEqual(parseServerMessage(decoded!.header), {
    t: "group",
    group: "g",
    from: "a",
    ts: 1,
    id: 2 ** 48 - 1,
    seq: 3,
  });
  // Half a position, or one past u48, goes as JSON rather than lose a field.
  assert.equal(
    encodeCompactChat(
      { t: "private", from: "a", ts: 1, id: 5 },
      text("x"),
      "fixed",
    ),
    null,
  );
  assert.equal(
    encodeCompactChat(
      { t: "private", from: "a", ts: 1, id: 2 ** 48, seq: 1 },
      text("x"),
      "fixed",
    ),
    null,
  );
});

Deno.test("encodeCompactChat writes forms 7-9 with varints for readers that asked, and decodeBatch reads them back", () => {
  const hex = (bytes: Uint8Array | null) =>
    [...bytes!].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const message = {
    t: "public",
    from: "al",
    ts: 0x0102_0304_0506,
    id: 1234,
    seq: 56,
  } as const;
  // The example of PROTOCOL.md 4.1: 16 bytes where form 4 takes 28.
  assert.equal(
    hex(encodeCompactChat(message, text("hi"), "varint")),
    "07 86 8a 90 98 a0 20 d2 09 38 02 61 6c 02 68 69",
  );
  // Without an id and a seq there is nothing to put there: form 1.
  assert.equal(
    encodeCompactChat({ t: "public", from: "al", ts: 1 }, text("hi"), "varint")
      ?.[0],
    1,
  );
  const edges = [0, 127, 128, 2 ** 32 - 1, 2 ** 32, 2 ** 48 - 1];
  const kinds = [
    { t: "public", from: "al" },
    { t: "private", from: "zoë" },
    { t: "group", group: "g", from: "a" },
  ] as const;
  for (const [k, kind] of kinds.entries()) {
    for (const n of edges) {
      const full = { ...kind, ts: n, id: edges[5]! - n, seq: n } as const;
      const body = new Uint8Array(n % 200).fill(7);
      const encoded = encodeCompactChat(full, body, "varint")!;
      assert.equal(encoded[0], 7 + k);
      const [decoded] = decodeBatch(encoded);
      assert.deepEqual(decoded!.header, full);
      assert.deepEqual(decoded!.body, body);
      // The form carries any UTF-8 name; a client takes only names that
      // follow the rule (PROTOCOL.md 8).
      if (full.from === "zoë") {
        assert.throws(() => parseServerMessage(decoded!.header), TypeError);
      } else assert.deepEqual(parseServerMessage(decoded!.header), full);
    }
  }
});

Deno.test("decodeBatch refuses a varint form's number cut short, overlong, too long or over 2^48 - 1", () => {
  const bytes = (hex: string) =>
    new Uint8Array(hex.split(" ").map((h) => parseInt(h, 16)));
  // The valid example, to show the cases below fail for their varint only.
  assert.equal(
    decodeBatch(bytes("07 86 8a 90 98 a0 20 d2 09 38 02 61 6c 02 68 69"))
      .length,
    1,
  );
  for (
    const [hex, why] of [
      ["07 86 8a", /Truncated/],
      ["07 80 00 01 01 02 61 6c 00", /Overlong/],
      ["07 01 01 01 02 61 6c 80 00", /Overlong/],
      ["07 ff ff ff ff ff ff 7f 01 01 02 61 6c 00", /over 2\^48/],
      ["07 80 80 80 80 80 80 80 01 01 01 02 61 6c 00", /longer than 7/],
      ["07 01 01 01 02 61 6c 05 68 69", /longer than its frame/],
      ["0a 01 01 01 02 61 6c 00", /Unknown message form 10/],
    ] as const
  ) {
    assert.throws(() => decodeBatch(bytes(hex)), why, hex);
  }
});

Deno.test("parseClientMessage reads an ack's cursors and refuses malformed ones", () => {
  assert.deepEqual(
    parseClientMessage({
      t: "ack",
      cursors: [{ to: "bob", seq: 4 }, { group: "team", seq: 77 }],
    }),
    { t: "ack", cursors: [{ to: "bob", seq: 4 }, { group: "team", seq: 77 }] },
  );
  for (
    const cursors of [
      "no",
      [{ to: "bob", group: "team", seq: 1 }],
      [{ seq: 1 }],
      [{ to: "bob", seq: -1 }],
      Array.from({ length: 257 }, () => ({ to: "bob", seq: 1 })),
    ]
  ) {
    assert.throws(() => parseClientMessage({ t: "ack", cursors }), TypeError);
  }
});

Deno.test("parseClientMessage reads away with or without a reason, capped", () => {
  assert.deepEqual(parseClientMessage({ t: "away", id: 1 }), {
    t: "away",
    id: 1,
  });
  assert.deepEqual(parseClientMessage({ t: "away", id: 2, reason: "lunch" }), {
    t: "away",
    id: 2,
    reason: "lunch",
  });
  assert.throws(
    () => parseClientMessage({ t: "away", id: 3, reason: "x".repeat(201) }),
    TypeError,
  );
  assert.throws(() => parseClientMessage({ t: "away", id: 3, reason: 5 }));
});

Deno.test("parseServerMessage reads users' optional away and fingerprint", () => {
  const users = {
    t: "users",
    re: 1,
    users: [
      { name: "a", lastMessageAt: null },
      { name: "b", lastMessageAt: 5, away: "lunch", fingerprint: "SHA256:x" },
    ],
  };
  assert.deepEqual(parseServerMessage(users), users);
  assert.throws(() =>
    parseServerMessage({
      t: "users",
      re: 1,
      users: [{ name: "a", lastMessageAt: null, away: 1 }],
    })
  );
});

Deno.test("parseClientMessage and parseServerMessage read the end-to-end key messages", () => {
  assert.deepEqual(parseClientMessage({ t: "e2e_keys", id: 1 }), {
    t: "e2e_keys",
    id: 1,
  });
  assert.deepEqual(
    parseClientMessage({ t: "e2e_bundle", id: 2, name: "bob", x: 1 }),
    { t: "e2e_bundle", id: 2, name: "bob" },
  );
  assert.throws(
    () => parseClientMessage({ t: "e2e_bundle", id: 2 }),
    TypeError,
  );
  assert.deepEqual(
    parseServerMessage({ t: "e2e_keys", re: 1, one_time: 100 }),
    { t: "e2e_keys", re: 1, one_time: 100 },
  );
  const fingerprint = "SHA256:" + "a".repeat(43);
  assert.deepEqual(
    parseServerMessage({ t: "e2e_bundle", re: 2, name: "Bob", fingerprint }),
    { t: "e2e_bundle", re: 2, name: "Bob", fingerprint },
  );
  assert.throws(
    () => parseServerMessage({ t: "e2e_bundle", re: 2, name: "Bob" }),
    TypeError,
  );
  assert.ok(isKnownServerType({ t: "e2e_bundle" }));
});

Deno.test("parseServerMessage refuses user and group names that break the naming rule", () => {
  const bad = ["", "eve\x1b]2;x\x07", "a b", "zo\u00eb", "x".repeat(33), 7];
  const messages = (name: unknown) => [
    { t: "welcome", re: 1, name, text: "hi" },
    { t: "public", from: name, ts: 1 },
    { t: "private", from: "al", to: name, ts: 1 },
    { t: "group", group: name, from: "al", ts: 1 },
    { t: "presence", name, online: true },
    { t: "membership", group: "g", name, joined: true },
    { t: "users", re: 1, users: [{ name, lastMessageAt: null }] },
    {
      t: "members",
      re: 1,
      groups: [{ group: "g", members: [name], online: [] }],
    },
    { t: "file_offer", xfer: 1, from: name, name: "a.txt", size: 1 },
    { t: "e2e_private", from: name, fingerprint: "f", ts: 1 },
  ];
  for (const message of messages("al_1.-Z")) parseServerMessage(message);
  for (const name of bad) {
    for (const message of messages(name)) {
      assert.throws(
        () => parseServerMessage(message),
        TypeError,
        JSON.stringify(message),
      );
    }
  }
});
