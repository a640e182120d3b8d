import assert from "node:assert/strict";
import { randomBytes, toHex } from "../../src/crypto/bytes.ts";
import {
  FILE_KEY_BYTES,
  FILE_TAG_BYTES,
  FileCipher,
  newFileKey,
} from "../../src/crypto/file_cipher.ts";
import { fileAead } from "../../src/crypto/native_aead.ts";
import { MAX_FILE_CHUNK_BYTES } from "../../src/protocol/limits.ts";

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

/** The tests run with --allow-ffi on Linux, where libcrypto 3 is installed. */
function native() {
  assert.ok(fileAead, "OpenSSL should load with the ffi permission");
  return fileAead;
}

Deno.test("FileCipher with a FileAead seals the test vector into the caller's buffer", async () => {
  const cipher = await FileCipher.create(KEY, 1, 5, native());
  assert.equal(cipher.native, true);
  const out = new Uint8Array(64).fill(9);
  const sealed = cipher.sealInto({ index: 0, offset: 0 }, HELLO, out);
  assert.equal(sealed.buffer, out.buffer);
  assert.equal(toHex(sealed), VECTOR.body);
  assert.equal(out[HELLO.length + FILE_TAG_BYTES], 9);
  assert.equal(
    toHex(await cipher.seal({ index: 0, offset: 0 }, HELLO)),
    VECTOR.body,
  );
  const opened = cipher.openInto({ index: 0, offset: 0 }, sealed, out.slice());
  assert.deepEqual(opened, HELLO);
});

Deno.test("FileCipher chunks sealed through OpenSSL open through WebCrypto and back, the same bytes on the wire", async () => {
  const key = newFileKey();
  const web = await FileCipher.create(key, 42, 10_000_000);
  const fast = await FileCipher.create(key, 42, 10_000_000, native());
  assert.equal(web.native, false);
  const out = new Uint8Array(MAX_FILE_CHUNK_BYTES + FILE_TAG_BYTES);
  const plain = new Uint8Array(MAX_FILE_CHUNK_BYTES);
  let offset = 0;
  for (
    const [index, size] of [1, 4096, 131_072, MAX_FILE_CHUNK_BYTES].entries()
  ) {
    const chunk = randomBytes(size);
    const place = { index, offset };
    const byWeb = await web.seal(place, chunk);
    const byOpenSsl = fast.sealInto(place, chunk, out);
    assert.equal(toHex(byOpenSsl), toHex(byWeb), `${size} bytes`);
    assert.deepEqual(fast.openInto(place, byWeb, plain), chunk);
    assert.deepEqual(await web.open(place, byOpenSsl.slice()), chunk);
    assert.deepEqual(await fast.open(place, byWeb), chunk);
    offset += size;
  }
});

Deno.test("FileCipher.openInto refuses what WebCrypto refuses: another place, transfer, size, or an altered chunk", async () => {
  const sealer = await FileCipher.create(KEY, 7, 1000);
  const sealed = await sealer.seal({ index: 3, offset: 300 }, HELLO);
  const opener = await FileCipher.create(KEY, 7, 1000, native());
  const out = new Uint8Array(64);
  assert.deepEqual(
    opener.openInto({ index: 3, offset: 300 }, sealed, out),
    HELLO,
  );
  assert.equal(opener.openInto({ index: 4, offset: 300 }, sealed, out), null);
  assert.equal(opener.openInto({ index: 3, offset: 305 }, sealed, out), null);
  const otherXfer = await FileCipher.create(KEY, 8, 1000, native());
  assert.equal(
    otherXfer.openInto({ index: 3, offset: 300 }, sealed, out),
    null,
  );
  const otherSize = await FileCipher.create(KEY, 7, 999, native());
  assert.equal(
    otherSize.openInto({ index: 3, offset: 300 }, sealed, out),
    null,
  );
  for (const at of [0, sealed.length - 1]) {
    const altered = sealed.slice();
    altered[at]! ^= 1;
    assert.equal(
      opener.openInto({ index: 3, offset: 300 }, altered, out),
      null,
    );
    // Nothing of a forged chunk is left in the buffer.
    assert.deepEqual(
      out.subarray(0, HELLO.length),
      new Uint8Array(HELLO.length),
    );
  }
  assert.equal(
    opener.openInto({ index: 3, offset: 300 }, sealed.subarray(0, 15), out),
    null,
  );
});

Deno.test("FileCipher.sealInto and openInto refuse a buffer too small, a chunk over the maximum, or a cipher without a FileAead", async () => {
  const fast = await FileCipher.create(KEY, 1, 1 << 30, native());
  const place = { index: 0, offset: 0 };
  assert.throws(
    () => fast.sealInto(place, new Uint8Array(100), new Uint8Array(115)),
    /Cannot seal a 100-byte chunk into 115 bytes/,
  );
  assert.throws(
    () =>
      fast.sealInto(
        place,
        new Uint8Array(MAX_FILE_CHUNK_BYTES + 1),
        new Uint8Array(MAX_FILE_CHUNK_BYTES + 17),
      ),
    /A chunk is at most 262144 bytes, got 262145/,
  );
  const sealed = fast.sealInto(place, new Uint8Array(100), new Uint8Array(116));
  assert.throws(
    () => fast.openInto(place, sealed, new Uint8Array(99)),
    /Cannot open a 100-byte chunk into 99 bytes/,
  );
  const web = await FileCipher.create(KEY, 1, 1 << 30);
  assert.throws(
    () => web.sealInto(place, new Uint8Array(1), new Uint8Array(17)),
    /This file cipher has no synchronous AES-GCM/,
  );
  // A FileAead too small for a chunk is not used.
  const small = await FileCipher.create(KEY, 1, 1, {
    ...native(),
    maxPlaintext: 4096,
    sealInto: native().sealInto,
    openInto: native().openInto,
  });
  assert.equal(small.native, false);
});
