import assert from "node:assert/strict";
import {
  decodeHeaderFrame,
  encodeHeaderFrame,
} from "../../../src/server/cluster/header_frame.ts";

function frame(length: number, header: Uint8Array, body = new Uint8Array(0)) {
  const bytes = new Uint8Array(4 + header.byteLength + body.byteLength);
  new DataView(bytes.buffer).setUint32(0, length);
  bytes.set(header, 4);
  bytes.set(body, 4 + header.byteLength);
  return bytes;
}

const json = (text: string) => new TextEncoder().encode(text);

Deno.test("a header frame is its header's length, the header as JSON, then the body", () => {
  const bytes = encodeHeaderFrame({ v: 1, k: "x" }, new Uint8Array([7, 8]));
  const header = json('{"v":1,"k":"x"}');
  assert.deepEqual(
    bytes,
    frame(header.byteLength, header, new Uint8Array([7, 8])),
  );
  const decoded = decodeHeaderFrame(bytes, "Thing");
  assert.deepEqual(decoded.header, { v: 1, k: "x" });
  assert.deepEqual(decoded.body, new Uint8Array([7, 8]));
  assert.deepEqual(
    decodeHeaderFrame(encodeHeaderFrame({}), "Thing").body,
    new Uint8Array(0),
  );
});

Deno.test("a decoded body is a copy: the frame's buffer may be reused", () => {
  const bytes = encodeHeaderFrame({ v: 1 }, new Uint8Array([1, 2, 3]));
  const { body } = decodeHeaderFrame(bytes, "Thing");
  bytes.fill(0);
  assert.deepEqual(body, new Uint8Array([1, 2, 3]));
});

Deno.test("a frame within a larger buffer decodes from its own offset", () => {
  const inner = encodeHeaderFrame({ a: "b" }, new Uint8Array([9]));
  const outer = new Uint8Array(inner.byteLength + 3);
  outer.set(inner, 3);
  const decoded = decodeHeaderFrame(outer.subarray(3), "Thing");
  assert.deepEqual(decoded.header, { a: "b" });
  assert.deepEqual(decoded.body, new Uint8Array([9]));
});

Deno.test("a bad frame is refused with a TypeError naming the kind and what is wrong", () => {
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(3), "Log record too short"],
    [frame(50, json("{}")), "Log record header runs past its end"],
    [
      frame(0xffffffff, new Uint8Array(0)),
      "Log record header runs past its end",
    ],
    [frame(3, json("{no")), "Log record header is not JSON"],
    [frame(2, new Uint8Array([0xc3, 0x28])), "Log record header is not JSON"],
    [frame(2, json("[]")), "Log record header is not an object"],
    [frame(4, json("null")), "Log record header is not an object"],
    [frame(1, json("7")), "Log record header is not an object"],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => decodeHeaderFrame(bytes, "Log record"), (error) => {
      assert.ok(error instanceof TypeError);
      assert.equal(error.message, message);
      return true;
    });
  }
});
