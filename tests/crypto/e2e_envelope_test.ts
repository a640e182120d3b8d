import assert from "node:assert/strict";
import { utf8Encode } from "../../src/crypto/bytes.ts";
import {
  decodeEnvelope,
  type E2eSession,
  encodeEnvelope,
  EnvelopeKind,
  INIT_BYTES,
  initiateSession,
  openEnvelope,
  sealEnvelope,
} from "../../src/crypto/e2e_envelope.ts";
import { generatePrekeys, PrekeyError } from "../../src/crypto/prekeys.ts";
import { RatchetError } from "../../src/crypto/ratchet.ts";
import { seededIdentity } from "../_helpers/e2e_keys.ts";

const ALICE = await seededIdentity(0x0a);
const BOB = await seededIdentity(0x0b);
const MALLORY = await seededIdentity(0x0c);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function setup(oneTimeCount = 2) {
  const alice = await generatePrekeys(ALICE, {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount: 0,
  });
  const bob = await generatePrekeys(BOB, {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount,
  });
  const fetched = { ...bob.bundle, oneTime: bob.bundle.oneTime.slice(0, 1) };
  const session = await initiateSession({
    identity: ALICE.publicRaw,
    dh: alice.bundle.dh,
    dhPair: alice.secrets.dh,
  }, fetched);
  const aliceOwn = { identity: ALICE.publicRaw, secrets: alice.secrets };
  const bobOwn = { identity: BOB.publicRaw, secrets: bob.secrets };
  return { session, aliceOwn, bobOwn };
}

Deno.test("sealEnvelope carries the init until the first reply, then plain messages", async () => {
  const { session, aliceOwn, bobOwn } = await setup();
  let alice: E2eSession = session;
  const first = await sealEnvelope(alice, utf8Encode("one"));
  alice = first.session;
  const second = await sealEnvelope(alice, utf8Encode("two"));
  alice = second.session;
  assert.equal(first.envelope[1], EnvelopeKind.init);
  assert.equal(second.envelope[1], EnvelopeKind.init);
  assert.equal(first.envelope.length, 2 + INIT_BYTES + 40 + 3 + 16);

  // The second arrives first: it starts Bob's session too.
  const b1 = await openEnvelope(bobOwn, ALICE.publicRaw, null, second.envelope);
  assert.equal(text(b1.plaintext), "two");
  assert.equal(bobOwn.secrets.oneTime.size, 1);
  const b2 = await openEnvelope(
    bobOwn,
    ALICE.publicRaw,
    b1.session,
    first.envelope,
  );
  assert.equal(text(b2.plaintext), "one");

  const reply = await sealEnvelope(b2.session, utf8Encode("hi"));
  assert.equal(reply.envelope[1], EnvelopeKind.message);
  const a = await openEnvelope(aliceOwn, BOB.publicRaw, alice, reply.envelope);
  assert.equal(text(a.plaintext), "hi");
  const third = await sealEnvelope(a.session, utf8Encode("three"));
  assert.equal(third.envelope[1], EnvelopeKind.message);
  const b3 = await openEnvelope(
    bobOwn,
    ALICE.publicRaw,
    b2.session,
    third.envelope,
  );
  assert.equal(text(b3.plaintext), "three");
});

Deno.test("openEnvelope refuses a replayed init, an altered one, and another sender's", async () => {
  const { session, bobOwn } = await setup();
  const first = await sealEnvelope(session, utf8Encode("once"));
  const opened = await openEnvelope(
    bobOwn,
    ALICE.publicRaw,
    null,
    first.envelope,
  );
  // Replayed into the session it started, or with no session (the one-time
  // key is gone).
  await assert.rejects(
    () => openEnvelope(bobOwn, ALICE.publicRaw, opened.session, first.envelope),
    RatchetError,
  );
  await assert.rejects(
    () => openEnvelope(bobOwn, ALICE.publicRaw, null, first.envelope),
    /one-time prekey 0 is unknown or already used/,
  );
  // Claimed as coming from Mallory.
  await assert.rejects(
    () => openEnvelope(bobOwn, MALLORY.publicRaw, null, first.envelope),
    /another identity key/,
  );
});

Deno.test("openEnvelope does not burn a one-time key for a forged message under a genuine init", async () => {
  const { session, bobOwn } = await setup();
  const first = await sealEnvelope(session, utf8Encode("real"));
  const forged = first.envelope.slice();
  forged[forged.length - 1]! ^= 1;
  await assert.rejects(
    () => openEnvelope(bobOwn, ALICE.publicRaw, null, forged),
    RatchetError,
  );
  assert.equal(bobOwn.secrets.oneTime.size, 2);
  const opened = await openEnvelope(
    bobOwn,
    ALICE.publicRaw,
    null,
    first.envelope,
  );
  assert.equal(text(opened.plaintext), "real");
  // Mallory's DH key under Alice's identity is refused.
  const mallory = await generatePrekeys(MALLORY, {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount: 0,
  });
  const decoded = decodeEnvelope(first.envelope);
  const swapped = encodeEnvelope({
    ...decoded,
    init: { ...decoded.init!, dh: mallory.bundle.dh },
  });
  await assert.rejects(
    () => openEnvelope(bobOwn, ALICE.publicRaw, null, swapped),
    PrekeyError,
  );
});

Deno.test("decodeEnvelope round-trips and refuses malformed bytes", async () => {
  const { session } = await setup(0);
  const { envelope } = await sealEnvelope(session, utf8Encode("x"));
  const decoded = decodeEnvelope(envelope);
  assert.equal(decoded.init!.oneTimeId, null);
  assert.deepEqual(encodeEnvelope(decoded), envelope);
  const bad: Uint8Array[] = [
    new Uint8Array(0),
    Uint8Array.of(2, 2, ...new Uint8Array(60)),
    Uint8Array.of(1, 3, ...new Uint8Array(300)),
    envelope.slice(0, 100),
    Uint8Array.of(1, 2, ...new Uint8Array(10)),
  ];
  const flag = envelope.slice();
  flag[2 + 32 + 32 + 64 + 32 + 4] = 2;
  bad.push(flag);
  for (const bytes of bad) {
    assert.throws(() => decodeEnvelope(bytes), RatchetError);
  }
});
