import assert from "node:assert/strict";
import { generatePrekeys, PrekeyError } from "../../src/crypto/prekeys.ts";
import { x3dhInitiate, x3dhRespond } from "../../src/crypto/x3dh.ts";
import { seededIdentity } from "../_helpers/e2e_keys.ts";
import { DhError } from "../../src/crypto/x25519.ts";

const ALICE = await seededIdentity(0x0a);
const BOB = await seededIdentity(0x0b);
const MALLORY = await seededIdentity(0x0c);

async function parties(oneTimeCount = 2) {
  const alice = await generatePrekeys(ALICE, {
    signedId: 1,
    firstOneTimeId: 1,
    oneTimeCount: 0,
  });
  const bob = await generatePrekeys(BOB, {
    signedId: 3,
    firstOneTimeId: 10,
    oneTimeCount,
  });
  const own = {
    identity: ALICE.publicRaw,
    dh: alice.bundle.dh,
    dhPair: alice.secrets.dh,
  };
  return { own, alice, bob };
}

Deno.test("x3dhInitiate and x3dhRespond agree, with a one-time key", async () => {
  const { own, bob } = await parties();
  const fetched = { ...bob.bundle, oneTime: bob.bundle.oneTime.slice(0, 1) };
  const a = await x3dhInitiate(own, fetched);
  assert.equal(a.init.oneTimeId, 10);
  assert.equal(a.sharedKey.length, 32);
  assert.equal(a.associatedData.length, 128);
  assert.deepEqual(a.theirRatchetKey, bob.bundle.signed.key);
  const b = await x3dhRespond(BOB.publicRaw, bob.secrets, a.init);
  assert.deepEqual(b.sharedKey, a.sharedKey);
  assert.deepEqual(b.associatedData, a.associatedData);
  // The one-time key is used up: the same init cannot be answered again.
  assert.deepEqual([...bob.secrets.oneTime.keys()], [11]);
  await assert.rejects(
    () => x3dhRespond(BOB.publicRaw, bob.secrets, a.init),
    /one-time prekey 10 is unknown or already used/,
  );
});

Deno.test("x3dhInitiate and x3dhRespond agree without a one-time key", async () => {
  const { own, bob } = await parties(0);
  const a = await x3dhInitiate(own, bob.bundle);
  assert.equal(a.init.oneTimeId, null);
  const b = await x3dhRespond(BOB.publicRaw, bob.secrets, a.init);
  assert.deepEqual(b.sharedKey, a.sharedKey);
});

Deno.test("x3dhInitiate gives a different secret each time (fresh ephemeral)", async () => {
  const { own, bob } = await parties(0);
  const first = await x3dhInitiate(own, bob.bundle);
  const second = await x3dhInitiate(own, bob.bundle);
  assert.notDeepEqual(first.sharedKey, second.sharedKey);
});

Deno.test("x3dhInitiate refuses a bundle whose signed prekey the server swapped", async () => {
  const { own, bob } = await parties(0);
  const mallory = await generatePrekeys(MALLORY, {
    signedId: 3,
    firstOneTimeId: 0,
    oneTimeCount: 0,
  });
  await assert.rejects(
    () => x3dhInitiate(own, { ...bob.bundle, signed: mallory.bundle.signed }),
    PrekeyError,
  );
  await assert.rejects(
    () =>
      x3dhInitiate(own, {
        ...bob.bundle,
        oneTime: [mallory.bundle.signed],
      }),
    PrekeyError,
  );
});

Deno.test("x3dhRespond refuses a forged initiator DH key", async () => {
  const { own, bob } = await parties(1);
  const a = await x3dhInitiate(own, bob.bundle);
  const mallory = await generatePrekeys(MALLORY, {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount: 0,
  });
  // Mallory's DH key, claimed under Alice's identity.
  await assert.rejects(
    () =>
      x3dhRespond(BOB.publicRaw, bob.secrets, {
        ...a.init,
        dh: mallory.bundle.dh,
      }),
    PrekeyError,
  );
  // A forged init burns no one-time key.
  assert.equal(bob.secrets.oneTime.size, 1);
  await assert.rejects(
    () =>
      x3dhRespond(BOB.publicRaw, bob.secrets, {
        ...a.init,
        ephemeral: new Uint8Array(32),
      }),
    DhError,
  );
  assert.equal(bob.secrets.oneTime.size, 1);
  await assert.rejects(
    () => x3dhRespond(BOB.publicRaw, bob.secrets, { ...a.init, signedId: 4 }),
    /signed prekey 4 is not/,
  );
});
