import assert from "node:assert/strict";
import { fileKeyForOffer, fileKeyOfOffer } from "../../src/client/file_key.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";

function offer(key?: string): FileOfferNotice {
  return {
    t: "file_offer",
    xfer: 1,
    from: "sophia",
    name: "a.bin",
    size: 1,
    ...(key === undefined ? {} : { key }),
  };
}

Deno.test("fileKeyForOffer and fileKeyOfOffer carry a file key through the offer as hex", () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  const field = fileKeyForOffer(key);
  assert.equal(
    field.key,
    "00070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9",
  );
  assert.deepEqual(fileKeyOfOffer(offer(field.key)), key);
});

Deno.test("fileKeyOfOffer is null for an offer without a key or with a malformed one", () => {
  assert.equal(fileKeyOfOffer(offer()), null);
  assert.equal(fileKeyOfOffer(offer("AB".repeat(32))), null);
  assert.equal(fileKeyOfOffer(offer("ab".repeat(31))), null);
});
