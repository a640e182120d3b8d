import assert from "node:assert/strict";
import { decodeBatch } from "../../src/protocol/batch_framing.ts";
import { encodeCompactChat } from "../../src/protocol/compact_chat.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { parseServerMessage } from "../../src/protocol/parse_server_message.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";

const text = (s: string) => new TextEncoder().encode(s);

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
      { t: "group", group: "g", from: "a", ts: 1, req: 7, history: true },
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

Deno.test("encodeCompactChat cannot be given a live chat message with req: the type forbids req without history", () => {
  // `req` names the history request a message answers (PROTOCOL.md 5.4);
  // the compact form has no room for it and is chosen by `history` alone,
  // so a message with `req` and no `history` would lose it. The compiler
  // refuses to make one (deno check fails if this line compiles).
  // @ts-expect-error: req without history
  const live: ServerMessage = { t: "public", from: "a", ts: 1, req: 7 };
  assert.ok(live);
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
