import assert from "node:assert/strict";
import {
  asRecord,
  fileEnd,
  fileKey,
  int,
  list,
  optionalInt,
  str,
  userName,
  wholeFileDigest,
} from "../../src/protocol/header_fields.ts";

Deno.test("asRecord takes an object and refuses null, arrays and primitives", () => {
  const fields = { t: "x" };
  assert.equal(asRecord(fields), fields);
  for (const bad of [null, [], "x", 1, undefined]) {
    assert.throws(() => asRecord(bad), TypeError, String(bad));
  }
});

Deno.test("str, int and optionalInt name the field they refuse", () => {
  assert.equal(str({ a: "x".repeat(256) }, "a"), "x".repeat(256));
  assert.throws(() => str({ a: "x".repeat(257) }, "a"), /'a' is too long/);
  assert.throws(() => str({ a: "xyz" }, "a", 2), /'a' is too long/);
  assert.throws(() => str({}, "a"), /'a' must be a string/);
  assert.equal(int({ n: Number.MAX_SAFE_INTEGER }, "n"), 2 ** 53 - 1);
  for (const bad of [-1, 1.5, 2 ** 53, "1", null]) {
    assert.throws(() => int({ n: bad }, "n"), /'n' must be a non-negative/);
  }
  assert.equal(optionalInt({ n: null }, "n"), null);
  assert.equal(optionalInt({ n: 4 }, "n"), 4);
  assert.throws(() => optionalInt({}, "n"), TypeError);
});

Deno.test("list maps every item and refuses a non-array or one over its cap", () => {
  assert.deepEqual(list({ l: [1, 2] }, "l", (v) => String(v)), ["1", "2"]);
  assert.throws(() => list({ l: {} }, "l", String), /must be an array/);
  assert.throws(() => list({ l: [1, 2, 3] }, "l", String, 2), /too many/);
});

Deno.test("userName takes only names that follow the naming rule", () => {
  assert.equal(userName({ name: "al_1.-Z" }, "name"), "al_1.-Z");
  for (const bad of ["", "a b", "eve\x1b]2;x\x07", "x".repeat(33), 7]) {
    assert.throws(() => userName({ name: bad }, "name"), /must be a name/);
  }
});

Deno.test("fileKey and fileEnd take lower-case hex keys and a base64 signature, when present", () => {
  const key = "ab".repeat(32);
  const id = "cd".repeat(16);
  assert.deepEqual(fileKey({}), {});
  assert.deepEqual(fileKey({ key, key_id: id }), { key, key_id: id });
  assert.throws(() => fileKey({ key: key.toUpperCase() }), /'key'/);
  assert.throws(() => fileKey({ key_id: key }), /'key_id'/);
  const end = { xfer: 1, sha256: key };
  assert.deepEqual(fileEnd(end), { t: "file_end", ...end });
  const sig = "A".repeat(86) + "==";
  assert.deepEqual(fileEnd({ ...end, sig }), { t: "file_end", ...end, sig });
  assert.throws(() => fileEnd({ ...end, sig: "A".repeat(88) }), /'sig'/);
});

Deno.test("wholeFileDigest takes an offer's sha256 of 64 lower-case hex digits, when present", () => {
  const sha256 = "ef".repeat(32);
  assert.deepEqual(wholeFileDigest({}), {});
  assert.deepEqual(wholeFileDigest({ sha256 }), { sha256 });
  assert.throws(
    () => wholeFileDigest({ sha256: sha256.toUpperCase() }),
    /'sha256'/,
  );
  assert.throws(() => wholeFileDigest({ sha256: "ef" }), /'sha256'/);
  assert.throws(() => wholeFileDigest({ sha256: 7 }), /'sha256'/);
});
