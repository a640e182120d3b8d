import assert from "node:assert/strict";
import {
  encodeFileSecret,
  FILE_SECRET_BYTES,
  FileKeyInbox,
  fileKeyOfSecret,
  fileSecretLabel,
  keyIdOfLabel,
  newFileKeyId,
  receiveFileKey,
} from "../../src/client/file_key_share.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { newFileKey } from "../../src/crypto/file_cipher.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";

function offer(fields: Partial<FileOfferNotice> = {}): FileOfferNotice {
  return {
    t: "file_offer",
    xfer: 1,
    from: "alice",
    name: "plans.pdf",
    size: 1234,
    timeout: 90_000,
    ...fields,
  };
}

Deno.test("encodeFileSecret is the key, the SHA-256 of the name and the size, as PROTOCOL.md 11.10 says", async () => {
  const key = new Uint8Array(32).fill(7);
  const secret = await encodeFileSecret(key, "a.txt", 258);
  assert.equal(secret.length, FILE_SECRET_BYTES);
  assert.equal(
    secret.toHex(),
    "0707070707070707070707070707070707070707070707070707070707070707" +
      "18b7cb099a9ea3f50ba899b5ba81e0d377a5f3b16f8f6eeb8b3e58cd4692b993" +
      "0000000000000102",
  );
});

Deno.test("fileKeyOfSecret gives the key only to the offer of the same name and size", async () => {
  const key = newFileKey();
  const secret = await encodeFileSecret(key, "plans.pdf", 1234);
  assert.deepEqual(await fileKeyOfSecret(secret, offer()), { key });
  for (const other of [{ name: "plans.pdf.exe" }, { size: 1235 }]) {
    const got = await fileKeyOfSecret(secret, offer(other));
    assert.ok("error" in got);
    assert.match(got.error, /for another file/);
  }
  const short = await fileKeyOfSecret(secret.subarray(1), offer());
  assert.ok("error" in short && /malformed/.test(short.error));
});

Deno.test("keyIdOfLabel reads only labels of file keys", () => {
  const id = newFileKeyId();
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.notEqual(id, newFileKeyId());
  assert.equal(keyIdOfLabel(fileSecretLabel(id)), id);
  assert.equal(keyIdOfLabel("file " + id.toUpperCase()), null);
  assert.equal(keyIdOfLabel("file " + id + "0"), null);
  assert.equal(keyIdOfLabel("note " + id), null);
});

Deno.test("FileKeyInbox.take waits for a key that comes after the offer, and hands it out once", async () => {
  const inbox = new FileKeyInbox();
  const id = newFileKeyId();
  const key = newFileKey();
  const waiting = inbox.take(offer({ key_id: id }), 5000);
  assert.equal(
    inbox.deliver(
      "Alice",
      fileSecretLabel(id),
      await encodeFileSecret(key, "plans.pdf", 1234),
    ),
    true,
  );
  assert.deepEqual(await waiting, { key });
  const again = await inbox.take(offer({ key_id: id }), 10);
  assert.ok("error" in again && /did not arrive/.test(again.error));
});

Deno.test("FileKeyInbox refuses a key that came from someone else than the offer's sender, and ignores other secrets", async () => {
  const inbox = new FileKeyInbox();
  const id = newFileKeyId();
  assert.equal(inbox.deliver("mallory", "note", new Uint8Array(3)), false);
  inbox.deliver(
    "mallory",
    fileSecretLabel(id),
    await encodeFileSecret(newFileKey(), "plans.pdf", 1234),
  );
  const got = await inbox.take(offer({ key_id: id }), 10);
  assert.ok("error" in got);
  assert.match(got.error, /came from mallory, not from alice/);
});

Deno.test("receiveFileKey takes a readable key only from a sender not known to use end-to-end keys", async () => {
  const key = newFileKey();
  const plain = offer(fileKeyForOffer(key));
  const inbox = new FileKeyInbox();
  assert.deepEqual(
    await receiveFileKey(plain, { inbox, usesE2e: () => false }),
    { key, readable: true },
  );
  const refused = await receiveFileKey(plain, { inbox, usesE2e: () => true });
  assert.ok("error" in refused);
  assert.match(
    refused.error,
    /^Cannot take 'plans\.pdf': .*readable by the server, but alice uses end-to-end keys/,
  );
  // An offer that names a key id is never opened with a readable key too.
  const both = await receiveFileKey(
    offer({ ...fileKeyForOffer(key), key_id: newFileKeyId() }),
    { inbox, usesE2e: () => false, waitMs: 10 },
  );
  assert.ok("error" in both && /did not arrive end to end/.test(both.error));
  const none = await receiveFileKey(offer(), { inbox, usesE2e: () => false });
  assert.ok("error" in none && /carries no file key/.test(none.error));
});
