import assert from "node:assert/strict";
import { binaryFrameHeader } from "../../src/server/ws_parts.ts";

Deno.test("binaryFrameHeader writes FIN+binary and the length in 7, 16 or 64 bits, unmasked", () => {
  assert.deepEqual(binaryFrameHeader(0), Uint8Array.of(0x82, 0));
  assert.deepEqual(binaryFrameHeader(125), Uint8Array.of(0x82, 125));
  assert.deepEqual(binaryFrameHeader(126), Uint8Array.of(0x82, 126, 0, 126));
  assert.deepEqual(
    binaryFrameHeader(65535),
    Uint8Array.of(0x82, 126, 0xff, 0xff),
  );
  assert.deepEqual(
    binaryFrameHeader(65536),
    Uint8Array.of(0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0),
  );
  assert.deepEqual(
    binaryFrameHeader(0x01020304),
    Uint8Array.of(0x82, 127, 0, 0, 0, 0, 1, 2, 3, 4),
  );
});
