import assert from "node:assert/strict";
import { decodeBatch, packBatches } from "../../src/protocol/batch_framing.ts";
import {
  decodeHeader,
  encodeHeader,
  encodeMessage,
  MESSAGE_OVERHEAD,
} from "../../src/protocol/message_framing.ts";
import { MAX_HEADER_BYTES } from "../../src/protocol/limits.ts";

const text = (s: string) => new TextEncoder().encode(s);

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

Deno.test("encodeHeader and decodeHeader carry a header alone, and refuse one out of bounds without quoting it", () => {
  const header = { t: "file_chunk", xfer: 7, offset: 65536 } as const;
  const json = encodeHeader(header);
  assert.deepEqual(json, text(JSON.stringify(header)));
  assert.deepEqual(decodeHeader(json), header);
  assert.throws(
    () =>
      encodeHeader({
        t: "error",
        re: 1,
        code: "internal",
        text: "x".repeat(MAX_HEADER_BYTES),
      }),
    RangeError,
  );
  assert.throws(() => decodeHeader(new Uint8Array(0)), SyntaxError);
  assert.throws(
    () => decodeHeader(new Uint8Array(MAX_HEADER_BYTES + 1)),
    SyntaxError,
  );
  assert.throws(
    () => decodeHeader(text('{"t":"secret-input')),
    (e) => e instanceof SyntaxError && !e.message.includes("secret"),
  );
  assert.throws(() => decodeHeader(new Uint8Array([0x7b, 0xff])), TypeError);
});
