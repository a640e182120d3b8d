/**
 * refusalBody and refusalBytesWanted: what of a refused upgrade's body the
 * client reads and quotes, by Content-Length or by its first chunk.
 */

import assert from "node:assert/strict";
import {
  refusalBody,
  refusalBytesWanted,
} from "../../src/transport/refusal_body.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const chunked = new Map([["transfer-encoding", "chunked"]]);

Deno.test("refusalBody gives a chunked answer's first chunk, not its size line", () => {
  const bytes = encoder.encode("9;ext=1\r\nnot here\n\r\n0\r\n\r\n");
  assert.equal(decoder.decode(refusalBody(chunked, bytes)), "not here\n");
  assert.equal(refusalBytesWanted(chunked, bytes), 9 + 9);
});

Deno.test("refusalBytesWanted waits for a chunk's size line, within its bound", () => {
  assert.equal(refusalBytesWanted(chunked, encoder.encode("1")), 2);
  assert.equal(refusalBody(chunked, encoder.encode("1")).length, 0);
  // No line end in 64 bytes: nothing more is read, nothing quoted.
  const long = encoder.encode("f".repeat(64));
  assert.equal(refusalBytesWanted(chunked, long), 0);
  assert.equal(refusalBody(chunked, long).length, 0);
  // A size line that is no hex: nothing quoted.
  const garbage = encoder.encode("zz\r\nhello");
  assert.equal(refusalBody(chunked, garbage).length, 0);
});

Deno.test("refusalBody gives a chunk cut short as far as it came", () => {
  const bytes = encoder.encode("20\r\nhalf of it");
  assert.equal(decoder.decode(refusalBody(chunked, bytes)), "half of it");
  assert.equal(refusalBytesWanted(chunked, bytes), 4 + 32);
});

Deno.test("refusalBody keeps to a Content-Length, and takes what came without one", () => {
  const bytes = encoder.encode("Refused: full\nmore");
  const sized = new Map([["content-length", "14"]]);
  assert.equal(decoder.decode(refusalBody(sized, bytes)), "Refused: full\n");
  assert.equal(refusalBytesWanted(sized, bytes), 14);
  assert.equal(
    decoder.decode(refusalBody(new Map(), bytes)),
    "Refused: full\nmore",
  );
  assert.equal(refusalBytesWanted(new Map(), bytes), 0);
});
