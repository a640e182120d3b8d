/**
 * Our end-to-end code against vectors computed independently (by
 * tests/crypto/e2e_vectors.py, from docs/PROTOCOL.md, with Python's
 * `cryptography`): the bundle, X3DH and the first two ratchet messages for
 * keys whose seeds are fixed bytes (tests/_helpers/e2e_keys.ts).
 */

import assert from "node:assert/strict";
import { toHex, utf8Encode } from "../../src/crypto/bytes.ts";
import {
  decodeBundle,
  encodeBundle,
  generatePrekeys,
  PrekeyKind,
  prekeySignatureMessage,
} from "../../src/crypto/prekeys.ts";
import {
  ratchetDecrypt,
  ratchetEncrypt,
  ratchetInitAlice,
  ratchetInitBob,
} from "../../src/crypto/ratchet.ts";
import { x3dhInitiate, x3dhRespond } from "../../src/crypto/x3dh.ts";
import { encodeEnvelope } from "../../src/crypto/e2e_envelope.ts";
import {
  seededIdentity,
  seededSource,
  seededX25519,
} from "../_helpers/e2e_keys.ts";
import VECTORS from "./e2e_vectors.json" with { type: "json" };

const ALICE = await seededIdentity(0x0a);
const BOB = await seededIdentity(0x0b);

Deno.test("generatePrekeys reproduces the vector bundle and signatures", async () => {
  const bob = await generatePrekeys(BOB, {
    signedId: 1,
    firstOneTimeId: 7,
    oneTimeCount: 1,
    generate: seededSource(0xb1, 0xb2, 0xb3),
  });
  assert.equal(
    toHex(
      prekeySignatureMessage(
        BOB.publicRaw,
        PrekeyKind.signed,
        1,
        bob.bundle.signed.key,
      ),
    ),
    VECTORS.signedPrekeyMessage,
  );
  assert.deepEqual(encodeBundle(bob.bundle), VECTORS.bundle);
});

Deno.test("x3dh and the ratchet reproduce the vector secret and messages", async () => {
  const bob = await generatePrekeys(BOB, {
    signedId: 1,
    firstOneTimeId: 7,
    oneTimeCount: 1,
    generate: seededSource(0xb1, 0xb2, 0xb3),
  });
  const aliceKeys = await generatePrekeys(ALICE, {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount: 0,
    generate: seededSource(0xa1, 0xa9),
  });
  assert.deepEqual(encodeBundle(aliceKeys.bundle).dh, VECTORS.aliceDh);

  const a = await x3dhInitiate(
    {
      identity: ALICE.publicRaw,
      dh: aliceKeys.bundle.dh,
      dhPair: aliceKeys.secrets.dh,
    },
    decodeBundle(VECTORS.bundle),
    await seededX25519(0xa2),
  );
  assert.equal(toHex(a.sharedKey), VECTORS.sharedKey);
  assert.equal(toHex(a.associatedData), VECTORS.associatedData);
  const alice = await ratchetInitAlice(
    a.sharedKey,
    a.associatedData,
    a.theirRatchetKey,
    seededSource(0xa3),
  );
  const sent = await ratchetEncrypt(alice, utf8Encode("hello bob"));
  assert.equal(toHex(sent.message), VECTORS.message1);
  assert.equal(
    toHex(encodeEnvelope({ init: a.init, message: sent.message })),
    VECTORS.envelope1,
  );

  const b = await x3dhRespond(BOB.publicRaw, bob.secrets, a.init);
  assert.equal(toHex(b.sharedKey), VECTORS.sharedKey);
  const received = await ratchetDecrypt(
    ratchetInitBob(b.sharedKey, b.associatedData, bob.secrets.signed.pair),
    sent.message,
    seededSource(0xb4),
  );
  assert.equal(new TextDecoder().decode(received.plaintext), "hello bob");
  const reply = await ratchetEncrypt(received.state, utf8Encode("hi alice"));
  assert.equal(toHex(reply.message), VECTORS.message2);
  const back = await ratchetDecrypt(
    sent.state,
    reply.message,
    seededSource(0xa4),
  );
  assert.equal(new TextDecoder().decode(back.plaintext), "hi alice");
});

Deno.test("docs/PROTOCOL.md 11.6 shows the same vectors", async () => {
  const doc = await Deno.readTextFile(
    new URL("../../docs/PROTOCOL.md", import.meta.url),
  );
  const start = doc.indexOf("### 11.6 Test vectors");
  assert.ok(start >= 0, "PROTOCOL.md has no 11.6");
  const section = doc.slice(start, doc.indexOf("\n## ", start));
  const joined = section.replace(/\s+/g, "");
  for (
    const hex of [
      VECTORS.signedPrekeyMessage,
      VECTORS.sharedKey,
      VECTORS.associatedData,
      VECTORS.message1,
      VECTORS.message2,
      VECTORS.envelope1,
      VECTORS.safetyNumber,
      VECTORS.senderKey,
      ...VECTORS.groupMessages,
    ]
  ) {
    assert.ok(joined.includes(hex), `11.6 lacks ${hex.slice(0, 16)}...`);
  }
  assert.ok(section.includes(JSON.stringify(VECTORS.bundle)));
  assert.ok(section.includes(JSON.stringify(VECTORS.aliceDh)));
});
