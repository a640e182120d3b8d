import assert from "node:assert/strict";
import { encodeBundle, generatePrekeys } from "../../../src/crypto/prekeys.ts";
import { identityFingerprint } from "../../../src/crypto/identity.ts";
import {
  ClusterPrekeys,
  parseEntry,
} from "../../../src/server/cluster/prekeys.ts";
import {
  nameBindingKey,
  NAMES_BUCKET,
  PREKEYS_BUCKET,
  prekeysKey,
} from "../../../src/server/cluster/subjects.ts";
import { releaseClusterName } from "../../../src/server/cluster/names.ts";
import { connectNats, openBucket } from "../../../src/server/cluster/nats.ts";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";
import {
  mergeBundle,
  takeOneTime,
} from "../../../src/server/prekey_directory.ts";
import { seededIdentity } from "../../_helpers/e2e_keys.ts";

const NATS = await natsServerPath();
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
  const { entry, takers } = parseEntry(text, prekeysKey("bob"));
  assert.equal(entry.name, "Bob");
  assert.equal(entry.fingerprint, BOB_FINGERPRINT);
  assert.deepEqual(encodeBundle(entry.bundle), encodeBundle(bundle));
  // Written before takers were kept: nobody took one.
  assert.deepEqual(takers, []);
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

Deno.test("parseEntry reads the takers of an entry", () => {
  const held = parseEntry(
    JSON.stringify({
      name: "Bob",
      fingerprint: BOB_FINGERPRINT,
      bundle: encodeBundle(bundle),
      takers: [BOB_FINGERPRINT],
    }),
    prekeysKey("bob"),
  );
  assert.deepEqual(held.takers, [BOB_FINGERPRINT]);
  for (const takers of [["SHA256:short"], "none", [1]]) {
    assert.throws(
      () =>
        parseEntry(
          JSON.stringify({
            name: "Bob",
            fingerprint: BOB_FINGERPRINT,
            bundle: encodeBundle(bundle),
            takers,
          }),
          prekeysKey("bob"),
        ),
      TypeError,
    );
  }
});

Deno.test({
  name:
    "ClusterPrekeys.take hands a requester one of a user's one-time keys per publish across all nodes, not one per node",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "prekeys-test");
    try {
      // Two nodes: each its own ClusterPrekeys over the one bucket.
      const [a, b] = await Promise.all(
        [0, 1].map(async () =>
          new ClusterPrekeys(await openBucket(nc, PREKEYS_BUCKET, 0), () => {})
        ),
      );
      const { bundle: three } = await generatePrekeys(BOB_ID, {
        signedId: 1,
        firstOneTimeId: 20,
        oneTimeCount: 3,
      });
      await a!.publish("bob", BOB_FINGERPRINT, three);
      const mallory = await identityFingerprint(
        (await seededIdentity(0x0d)).publicRaw,
      );
      const carol = await identityFingerprint(
        (await seededIdentity(0x0e)).publicRaw,
      );
      const oneTime = async (node: ClusterPrekeys, requester: string) =>
        (await node.take("bob", requester))?.bundle.oneTime.map((key) =>
          key.id
        );
      assert.deepEqual(await oneTime(a!, mallory), [20]);
      // Again, on the other node: the bundle, without a one-time key.
      assert.deepEqual(await oneTime(b!, mallory), []);
      assert.deepEqual(await oneTime(a!, mallory), []);
      assert.deepEqual(await oneTime(b!, carol), [21]);
      // bob's client asking how many are left (an empty top-up, nothing
      // new): mallory still took one.
      await b!.publish("bob", BOB_FINGERPRINT, {
        ...three,
        oneTime: [],
      });
      assert.deepEqual(await oneTime(b!, mallory), []);
      // bob published a new key: mallory may take one of his keys again.
      const { bundle: more } = await generatePrekeys(BOB_ID, {
        signedId: 1,
        firstOneTimeId: 23,
        oneTimeCount: 1,
      });
      await b!.publish("bob", BOB_FINGERPRINT, {
        ...three,
        oneTime: more.oneTime,
      });
      assert.deepEqual(await oneTime(b!, mallory), [22]);
    } finally {
      await nc.close();
    }
  },
});

Deno.test({
  name:
    "releaseClusterName deletes the prekeys published for the name: no node hands out the old key's",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "prekeys-test");
    try {
      const node = new ClusterPrekeys(
        await openBucket(nc, PREKEYS_BUCKET, 0),
        () => {},
      );
      await node.publish("bob", BOB_FINGERPRINT, bundle);
      const names = await openBucket(nc, NAMES_BUCKET, 0);
      await names.create(nameBindingKey("bob"), BOB_FINGERPRINT);
      const carol = await identityFingerprint(
        (await seededIdentity(0x0e)).publicRaw,
      );
      assert.equal(
        (await node.take("bob", carol))?.fingerprint,
        BOB_FINGERPRINT,
      );
      assert.deepEqual(await releaseClusterName([nats.url], "Bob"), {
        was: BOB_FINGERPRINT,
        groups: [],
      });
      assert.equal(await node.take("bob", carol), null);
    } finally {
      await nc.close();
    }
  },
});

Deno.test("mergeBundle and takeOneTime: one-time keys join those held under the same key, go out oldest first, and a new identity key or signed prekey starts afresh", async () => {
  const merged = mergeBundle(undefined, "Bob", BOB_FINGERPRINT, bundle);
  assert.deepEqual(merged.result, {
    kind: "stored",
    oneTime: 2,
    changed: true,
  });
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
  // Another signed prekey under the same identity key: the old one-time
  // keys go too (they may belong to keys the owner no longer has).
  const { bundle: renewed } = await generatePrekeys(BOB_ID, {
    signedId: 2,
    firstOneTimeId: 0,
    oneTimeCount: 0,
  });
  const dropped = mergeBundle(entry, "Bob", BOB_FINGERPRINT, {
    ...bundle,
    signed: renewed.signed,
    oneTime: [],
  });
  assert.deepEqual(dropped.result, {
    kind: "stored",
    oneTime: 0,
    changed: true,
  });
  assert.deepEqual(dropped.entry?.bundle.signed, renewed.signed);
});

Deno.test({
  name:
    "ClusterPrekeys.publish with a new DH key and signed prekey drops the one-time keys held: no node hands out one whose private half is gone",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    const nc = await connectNats([nats.url], "prekeys-test");
    try {
      const [a, b] = await Promise.all(
        [0, 1].map(async () =>
          new ClusterPrekeys(await openBucket(nc, PREKEYS_BUCKET, 0), () => {})
        ),
      );
      assert.deepEqual(await a!.publish("bob", BOB_FINGERPRINT, bundle), {
        kind: "stored",
        oneTime: 2,
        changed: true,
      });
      // Bob lost his keys, not his identity: new ones, the same ids.
      const { bundle: lost } = await generatePrekeys(BOB_ID, {
        signedId: 1,
        firstOneTimeId: 10,
        oneTimeCount: 1,
      });
      assert.deepEqual(await b!.publish("bob", BOB_FINGERPRINT, lost), {
        kind: "stored",
        oneTime: 1,
        changed: true,
      });
      const carol = await identityFingerprint(
        (await seededIdentity(0x0e)).publicRaw,
      );
      const handed = await a!.take("bob", carol);
      assert.deepEqual(handed?.bundle.signed, lost.signed);
      assert.deepEqual(handed?.bundle.oneTime, lost.oneTime);
    } finally {
      await nc.close();
    }
  },
});
