import assert from "node:assert/strict";
import { toHex } from "../../src/crypto/bytes.ts";
import {
  FILE_KEY_BYTES,
  FILE_TAG_BYTES,
  FileCipher,
  newFileKey,
} from "../../src/crypto/file_cipher.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i);
const HELLO = new TextEncoder().encode("hello");

/** docs/PROTOCOL.md A.4, computed with Python's `cryptography` (AESGCM). */
const VECTOR = {
  aad: "636861742f312066696c650000000000000001000000" +
    "000000000000000000000000000000000000000005",
  body: "8b4b8d35fbac99b28096db3f8376a48c66622cd027",
};

Deno.test("FileCipher seals a chunk as docs/PROTOCOL.md's test vector says", async () => {
  const cipher = await FileCipher.create(KEY, 1, 5);
  const place = { index: 0, offset: 0 };
  assert.equal(toHex(cipher.aad(place)), VECTOR.aad);
  const sealed = await cipher.seal(place, HELLO);
  assert.equal(toHex(sealed), VECTOR.body);
  assert.equal(sealed.length, HELLO.length + FILE_TAG_BYTES);
  assert.deepEqual(await cipher.open(place, sealed), HELLO);
});

Deno.test("FileCipher.keyedDigest keys a SHA-256 as docs/PROTOCOL.md's test vector says, per file key", async () => {
  const cipher = await FileCipher.create(KEY, 1, 5);
  const sha256 = toHex(
    new Uint8Array(await crypto.subtle.digest("SHA-256", HELLO)),
  );
  assert.equal(
    sha256,
    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
  );
  assert.equal(
    await cipher.keyedDigest(sha256),
    "3b131951fc7453cc1df93e20d0c04bb266f6e52c067b218b5618b61bafe5d092",
  );
  // Upper-case digits are the same digest; the transfer does not matter,
  // the key does.
  assert.equal(
    await (await FileCipher.create(KEY, 9, 77)).keyedDigest(
      sha256.toUpperCase(),
    ),
    await cipher.keyedDigest(sha256),
  );
  assert.notEqual(
    await (await FileCipher.create(newFileKey(), 1, 5)).keyedDigest(sha256),
    await cipher.keyedDigest(sha256),
  );
  await assert.rejects(() => cipher.keyedDigest("abc"), TypeError);
});

Deno.test("FileCipher.open refuses a chunk at another index or offset, of another transfer or size, or altered", async () => {
  const sealer = await FileCipher.create(KEY, 7, 1000);
  const sealed = await sealer.seal({ index: 3, offset: 300 }, HELLO);
  const opener = await FileCipher.create(KEY, 7, 1000);
  assert.deepEqual(await opener.open({ index: 3, offset: 300 }, sealed), HELLO);
  // Reordered or replayed: the recipient expects another index.
  assert.equal(await opener.open({ index: 4, offset: 300 }, sealed), null);
  // Moved within the file.
  assert.equal(await opener.open({ index: 3, offset: 305 }, sealed), null);
  // Moved to another transfer, or to a file of another size.
  const otherXfer = await FileCipher.create(KEY, 8, 1000);
  assert.equal(await otherXfer.open({ index: 3, offset: 300 }, sealed), null);
  const otherSize = await FileCipher.create(KEY, 7, 999);
  assert.equal(await otherSize.open({ index: 3, offset: 300 }, sealed), null);
  // Another key (a fresh one per offer).
  const otherKey = await FileCipher.create(newFileKey(), 7, 1000);
  assert.equal(await otherKey.open({ index: 3, offset: 300 }, sealed), null);
  for (const at of [0, sealed.length - 1]) {
    const altered = sealed.slice();
    altered[at]! ^= 1;
    assert.equal(await opener.open({ index: 3, offset: 300 }, altered), null);
  }
  assert.equal(
    await opener.open({ index: 3, offset: 300 }, sealed.subarray(0, 15)),
    null,
  );
});

Deno.test("FileCipher.create refuses a key that is not 32 bytes, and newFileKey makes fresh ones", async () => {
  await assert.rejects(
    FileCipher.create(new Uint8Array(16), 1, 1),
    /A file key is 32 bytes, got 16/,
  );
  const a = newFileKey();
  assert.equal(a.length, FILE_KEY_BYTES);
  assert.notDeepEqual(a, newFileKey());
});
