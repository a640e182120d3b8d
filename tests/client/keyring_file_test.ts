import assert from "node:assert/strict";
import { join } from "node:path";
import {
  loadOrCreateKeyring,
  saveKeyring,
} from "../../src/client/keyring_file.ts";
import {
  decodeKeyring,
  encodeKeyring,
} from "../../src/client/keyring_codec.ts";
import {
  createKeyring,
  publishPrekeys,
  rotateSignedPrekey,
  SIGNED_PREKEY_LIFETIME_MS,
} from "../../src/client/e2e_keys.ts";
import { verifyBundle } from "../../src/crypto/prekeys.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";

Deno.test("loadOrCreateKeyring creates a 0600 keyring and reads the same keys back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-keyring-" });
  try {
    const path = join(dir, "config", "e2e_keys");
    const identity = await testIdentity();
    const first = await loadOrCreateKeyring(path, identity);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const again = await loadOrCreateKeyring(path, identity);
    assert.deepEqual(again.secrets, first.secrets);
    // Signatures are made again, and are the same (Ed25519 is deterministic).
    assert.deepEqual(again.bundle, first.bundle);
    await verifyBundle(again.bundle);
    // Another identity gets new keys, not these.
    const other = await loadOrCreateKeyring(path, await testIdentity());
    assert.notDeepEqual(other.secrets.dh, first.secrets.dh);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("publishPrekeys saves new one-time keys, which survive a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-keyring-" });
  await using server = await startTestServer();
  const identity = await testIdentity();
  const bob = await TestClient.connect(server, "bob", identity);
  try {
    const path = join(dir, "e2e_keys");
    const keyring = await loadOrCreateKeyring(path, identity);
    await publishPrekeys(bob.client, keyring, (k) => saveKeyring(path, k));
    const reread = await loadOrCreateKeyring(path, identity);
    assert.equal(reread.secrets.oneTime.size, 100);
    assert.deepEqual(reread.secrets.oneTime, keyring.secrets.oneTime);
    assert.equal(reread.nextOneTimeId, 100);
    assert.equal(reread.signedAt, keyring.signedAt);
    assert.equal(reread.retired, null);
  } finally {
    await bob.quit();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeKeyring refuses corrupt files with a reason", async () => {
  const identity = await testIdentity();
  const good = JSON.parse(encodeKeyring(await createKeyring(identity)));
  const bad: [string, RegExp][] = [
    ["{", /not JSON/],
    [JSON.stringify({ ...good, version: 2 }), /unknown version/],
    [JSON.stringify({ ...good, dh: "AAAA" }), /'dh' must be 32 bytes/],
    [
      JSON.stringify({ ...good, signed: { id: -1, seed: good.dh } }),
      /signed.id/,
    ],
    [JSON.stringify({ ...good, one_time: {} }), /'one_time'/],
  ];
  for (const [text, message] of bad) {
    await assert.rejects(() => decodeKeyring(text, identity), message);
  }
});

Deno.test("encodeKeyring keeps a rotated signed prekey and the retired one; decodeKeyring reads them back", async () => {
  const identity = await testIdentity();
  const keyring = await createKeyring(identity, 1000);
  assert.equal(await rotateSignedPrekey(keyring, 2000), false);
  assert.equal(
    await rotateSignedPrekey(keyring, 1000 + SIGNED_PREKEY_LIFETIME_MS),
    true,
  );
  await verifyBundle({ ...keyring.bundle, oneTime: [] });
  const back = await decodeKeyring(encodeKeyring(keyring), identity);
  assert.ok(back !== null);
  assert.equal(back.secrets.signed.id, 2);
  assert.deepEqual(back.secrets.signed, keyring.secrets.signed);
  assert.deepEqual(back.retired, keyring.retired);
  assert.equal(back.signedAt, 1000 + SIGNED_PREKEY_LIFETIME_MS);
  // Each rotation retires the key it replaces (and forgets the one before).
  assert.equal(
    await rotateSignedPrekey(keyring, keyring.retired!.until + 1),
    true,
  );
  assert.equal(keyring.secrets.signed.id, 3);
  assert.equal(keyring.retired?.id, 2);
});
