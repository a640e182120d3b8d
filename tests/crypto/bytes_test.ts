import assert from "node:assert/strict";
import {
  arrayBufferBacked,
  concatBytes,
  equalBytes,
  fromBase64,
  randomBytes,
  RELEASE_MIN_BYTES,
  releaseBuffer,
  toBase64,
  toHex,
  u32be,
  utf8Encode,
} from "../../src/crypto/bytes.ts";

const RFC4648_VECTORS: [string, string][] = [
  ["", ""],
  ["f", "Zg=="],
  ["fo", "Zm8="],
  ["foo", "Zm9v"],
  ["foob", "Zm9vYg=="],
  ["fooba", "Zm9vYmE="],
  ["foobar", "Zm9vYmFy"],
];

Deno.test("concatBytes joins parts in order", () => {
  assert.deepEqual(
    concatBytes(new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3])),
    new Uint8Array([1, 2, 3]),
  );
  assert.deepEqual(concatBytes(), new Uint8Array(0));
});

Deno.test("toBase64 matches the RFC 4648 test vectors", () => {
  for (const [plain, encoded] of RFC4648_VECTORS) {
    assert.equal(toBase64(utf8Encode(plain)), encoded);
  }
});

Deno.test("fromBase64 decodes the RFC 4648 test vectors", () => {
  for (const [plain, encoded] of RFC4648_VECTORS) {
    assert.deepEqual(fromBase64(encoded), utf8Encode(plain));
  }
});

Deno.test("toBase64 and fromBase64 round-trip every byte value and length", () => {
  for (let length = 0; length < 70; length++) {
    const bytes = randomBytes(length);
    const encoded = toBase64(bytes);
    assert.equal(
      encoded,
      btoa(String.fromCharCode(...bytes)),
      `length ${length}`,
    );
    assert.deepEqual(fromBase64(encoded), bytes);
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(fromBase64(toBase64(all)), all);
});

Deno.test("fromBase64 rejects non-canonical input with TypeError", () => {
  const invalid = [
    "Zg", // missing padding
    "Zg=",
    "Zm9", // length not a multiple of 4
    "Zm9v\n",
    " Zm9v",
    "Zm9v ",
    "Zm 9v",
    "Zm-_", // URL-safe alphabet
    "Zm9v!A==",
    "Zh==", // non-zero bits hidden in the padding
    "Zm9=",
    "Z===",
    "====",
    "=Zg=",
    "Zg==Zg==", // padding in the middle
    "Zm9vYmFy=",
    "Zm\u00e99", // non-ASCII
  ];
  for (const text of invalid) {
    assert.throws(() => fromBase64(text), TypeError, JSON.stringify(text));
  }
});

Deno.test("toHex writes lowercase pairs", () => {
  assert.equal(toHex(new Uint8Array([0, 1, 0xab, 0xff])), "0001abff");
  assert.equal(toHex(new Uint8Array(0)), "");
});

Deno.test("u32be encodes big-endian and rejects out-of-range values", () => {
  assert.deepEqual(u32be(0), new Uint8Array([0, 0, 0, 0]));
  assert.deepEqual(u32be(0x01020304), new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(u32be(0xffff_ffff), new Uint8Array([255, 255, 255, 255]));
  for (const bad of [-1, 2 ** 32, 1.5, NaN]) {
    assert.throws(() => u32be(bad), RangeError);
  }
});

Deno.test("equalBytes compares contents and lengths", () => {
  assert.equal(equalBytes(new Uint8Array(0), new Uint8Array(0)), true);
  assert.equal(
    equalBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])),
    true,
  );
  assert.equal(
    equalBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])),
    false,
  );
  assert.equal(
    equalBytes(new Uint8Array([9, 2, 3]), new Uint8Array([1, 2, 3])),
    false,
  );
  assert.equal(
    equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])),
    false,
  );
});

Deno.test("utf8Encode writes UTF-8", () => {
  assert.deepEqual(
    utf8Encode("a\u00e9\u20ac\u{1f600}"),
    new Uint8Array([
      0x61,
      0xc3,
      0xa9,
      0xe2,
      0x82,
      0xac,
      0xf0,
      0x9f,
      0x98,
      0x80,
    ]),
  );
});

Deno.test("randomBytes returns fresh bytes of any length", () => {
  assert.equal(randomBytes(0).length, 0);
  assert.notDeepEqual(randomBytes(32), randomBytes(32));
  // Above the 65536-byte limit of a single getRandomValues call.
  const large = randomBytes(200_000);
  assert.equal(large.length, 200_000);
  assert.ok(large.subarray(190_000).some((b) => b !== 0));
});

Deno.test("arrayBufferBacked copies only views of shared memory", () => {
  const plain = new Uint8Array([1, 2, 3]);
  assert.equal(arrayBufferBacked(plain), plain);
  const shared = new Uint8Array(new SharedArrayBuffer(3));
  shared.set([4, 5, 6]);
  const copy = arrayBufferBacked(shared);
  assert.ok(copy.buffer instanceof ArrayBuffer);
  assert.deepEqual([...copy], [4, 5, 6]);
});

Deno.test("releaseBuffer frees a large buffer at once, and leaves small, shared and resizable ones alone", () => {
  const large = new Uint8Array(RELEASE_MIN_BYTES);
  const view = large.subarray(10, 20);
  releaseBuffer(large.buffer);
  assert.equal(large.buffer.detached, true);
  assert.equal(large.length, 0);
  assert.equal(view.length, 0, "every view reads as empty");
  releaseBuffer(large.buffer); // a second release is harmless

  const small = new Uint8Array(RELEASE_MIN_BYTES - 1);
  releaseBuffer(small.buffer);
  assert.equal(small.length, RELEASE_MIN_BYTES - 1);

  const shared = new SharedArrayBuffer(RELEASE_MIN_BYTES);
  releaseBuffer(shared);
  assert.equal(shared.byteLength, RELEASE_MIN_BYTES);

  const resizable = new ArrayBuffer(RELEASE_MIN_BYTES, {
    maxByteLength: 2 * RELEASE_MIN_BYTES,
  });
  releaseBuffer(resizable);
  assert.equal(resizable.detached, false);
});
