import assert from "node:assert/strict";
import { encodeBundle, generatePrekeys } from "../../../src/crypto/prekeys.ts";
import { identityFingerprint } from "../../../src/crypto/identity.ts";
import { parseEntry } from "../../../src/server/cluster/prekeys.ts";
import { prekeysKey } from "../../../src/server/cluster/subjects.ts";
import {
  mergeBundle,
  takeOneTime,
} from "../../../src/server/prekey_directory.ts";
import { seededIdentity } from "../../_helpers/e2e_keys.ts";

const BOB_ID = await seededIdentity(0x0b);
const BOB_FINGERPRINT = await identityFingerprint(BOB_ID.publicRaw);
const { bundle } = await generatePrekeys(BOB_ID, {
  signedId: 1,
  firstOneTimeId: 10,
  oneTimeCount: 2,
});

Deno.test("parseEntry reads a bucket entry back, and refuses one under another name's key or with a bad fingerprint", () => {
  const text = JSON.stringify({
    name: "Bob",
    fingerprint: BOB_FINGERPRINT,
    bundle: encodeBundle(bundle),
  });
  const entry = parseEntry(text, prekeysKey("bob"));
  assert.equal(entry.name, "Bob");
  assert.equal(entry.fingerprint, BOB_FINGERPRINT);
  assert.deepEqual(encodeBundle(entry.bundle), encodeBundle(bundle));
  assert.throws(() => parseEntry(text, prekeysKey("alice")), TypeError);
  assert.throws(
    () =>
      parseEntry(
        JSON.stringify({
          name: "Bob",
          fingerprint: "SHA256:short",
          bundle: encodeBundle(bundle),
        }),
        prekeysKey("bob"),
      ),
    TypeError,
  );
});

Deno.test("mergeBundle and takeOneTime: one-time keys join those held under the same key, go out oldest first, and a new identity key starts afresh", async () => {
  const merged = mergeBundle(undefined, "Bob", BOB_FINGERPRINT, bundle);
  assert.deepEqual(merged.result, { kind: "stored", oneTime: 2 });
  const entry = merged.entry!;
  const again = mergeBundle(entry, "Bob", BOB_FINGERPRINT, bundle);
  assert.equal(again.entry, null);
  assert.equal(again.result.kind, "refused");
  const { handed, left } = takeOneTime(entry);
  assert.deepEqual(handed.bundle.oneTime.map((one) => one.id), [10]);
  assert.deepEqual(left?.bundle.oneTime.map((one) => one.id), [11]);
  const last = takeOneTime(takeOneTime(left!).left!);
  assert.deepEqual(last.handed.bundle.oneTime, []);
  assert.equal(last.left, null);
  const other = await seededIdentity(0x0c);
  const fresh = mergeBundle(
    entry,
    "Bob",
    await identityFingerprint(other.publicRaw),
    { ...bundle, oneTime: [] },
  );
  assert.deepEqual(fresh.entry?.bundle.oneTime, []);
});
