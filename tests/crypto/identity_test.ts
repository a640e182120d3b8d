import assert from "node:assert/strict";
import {
  generateIdentity,
  IDENTITY_LABEL,
  identityChallengeMessage,
  identityFingerprint,
  IdentityKeyError,
  importIdentityPem,
  signChallenge,
  verifyChallenge,
} from "../../src/crypto/identity.ts";
import { generateRsaKeyPair } from "../../src/crypto/keys.ts";
import {
  concatBytes,
  fromBase64,
  randomBytes,
  u32be,
  utf8Encode,
} from "../../src/crypto/bytes.ts";

const GENERATED = await generateIdentity();
const IDENTITY = await importIdentityPem(GENERATED.privatePem);
const OTHER = await importIdentityPem((await generateIdentity()).privatePem);

const TRANSCRIPT_HASH = randomBytes(32);
const CHALLENGE = randomBytes(32);
const MESSAGE = identityChallengeMessage({
  transcriptHash: TRANSCRIPT_HASH,
  challenge: CHALLENGE,
  name: "Alice",
});
const SIGNATURE = await signChallenge(IDENTITY, MESSAGE);

async function rejectsWithKeyError(
  pem: string,
  message: RegExp,
): Promise<void> {
  await assert.rejects(importIdentityPem(pem), (error: unknown) => {
    assert.ok(error instanceof IdentityKeyError, `got ${error}`);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("generateIdentity returns PKCS#8 PEM that importIdentityPem reads back to the same key", () => {
  assert.match(
    GENERATED.privatePem,
    /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/,
  );
  assert.equal(GENERATED.publicRaw.length, 32);
  assert.deepEqual(IDENTITY.publicRaw, GENERATED.publicRaw);
  assert.equal(IDENTITY.fingerprint, GENERATED.fingerprint);
  assert.equal(IDENTITY.privateKey.type, "private");
  assert.equal(IDENTITY.privateKey.extractable, false);
  assert.deepEqual(IDENTITY.privateKey.usages, ["sign"]);
});

Deno.test("generateIdentity makes a different key each time", () => {
  assert.notDeepEqual(OTHER.publicRaw, IDENTITY.publicRaw);
  assert.notEqual(OTHER.fingerprint, IDENTITY.fingerprint);
});

Deno.test("importIdentityPem ignores text around the PEM block and CRLF line ends", async () => {
  const pem = "Bag Attributes\r\n" +
    GENERATED.privatePem.replaceAll("\n", "\r\n") + "trailing\r\n";
  const identity = await importIdentityPem(pem);
  assert.equal(identity.fingerprint, GENERATED.fingerprint);
});

Deno.test("identityFingerprint is SHA256: and unpadded base64 of the SHA-256 of the raw key", async () => {
  const fingerprint = await identityFingerprint(GENERATED.publicRaw);
  assert.equal(fingerprint, GENERATED.fingerprint);
  assert.match(fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", GENERATED.publicRaw),
  );
  assert.deepEqual(
    fromBase64(fingerprint.slice("SHA256:".length) + "="),
    digest,
  );
});

Deno.test("identityFingerprint rejects a key that is not 32 bytes", async () => {
  await assert.rejects(identityFingerprint(new Uint8Array(31)), RangeError);
});

Deno.test("importIdentityPem rejects text that is not a usable Ed25519 private key", async () => {
  await rejectsWithKeyError("hello", /^Not a PEM identity key/);
  await rejectsWithKeyError(
    (await generateRsaKeyPair(2048)).privatePem,
    /^Not an Ed25519 private key/,
  );
  await rejectsWithKeyError(
    (await generateRsaKeyPair(2048)).publicPem,
    /^This is a public key/,
  );
  await rejectsWithKeyError(
    "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    /^OpenSSH-format private keys are not supported/,
  );
  await rejectsWithKeyError(
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    /^Encrypted identity keys are not supported/,
  );
  await rejectsWithKeyError(
    GENERATED.privatePem.replace("-----END PRIVATE KEY-----\n", ""),
    /^Truncated PEM/,
  );
  await rejectsWithKeyError(
    GENERATED.privatePem.replace(/\n[A-Za-z]/, "\n!"),
    /^Corrupt PEM/,
  );
  await rejectsWithKeyError(
    "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
    /^Corrupt PEM: the identity key block is empty/,
  );
});

Deno.test("identityChallengeMessage length-prefixes the label, transcript hash, challenge and lower-case name", () => {
  const expected = concatBytes(
    u32be(15),
    utf8Encode("chat/1 identity"),
    u32be(32),
    TRANSCRIPT_HASH,
    u32be(32),
    CHALLENGE,
    u32be(5),
    utf8Encode("alice"),
  );
  assert.equal(IDENTITY_LABEL, "chat/1 identity");
  assert.deepEqual(MESSAGE, expected);
  assert.equal(MESSAGE.length, 4 + 15 + 4 + 32 + 4 + 32 + 4 + 5);
});

Deno.test("identityChallengeMessage treats names that differ only in case as the same name", () => {
  const upper = identityChallengeMessage({
    transcriptHash: TRANSCRIPT_HASH,
    challenge: CHALLENGE,
    name: "ALICE",
  });
  assert.deepEqual(upper, MESSAGE);
});

Deno.test("identityChallengeMessage rejects wrong-length hashes and challenges and invalid names", () => {
  const base = { transcriptHash: TRANSCRIPT_HASH, challenge: CHALLENGE };
  assert.throws(
    () =>
      identityChallengeMessage({
        ...base,
        transcriptHash: new Uint8Array(31),
        name: "alice",
      }),
    RangeError,
  );
  assert.throws(
    () =>
      identityChallengeMessage({
        ...base,
        challenge: new Uint8Array(33),
        name: "alice",
      }),
    RangeError,
  );
  assert.throws(
    () => identityChallengeMessage({ ...base, name: "" }),
    TypeError,
  );
  assert.throws(
    () => identityChallengeMessage({ ...base, name: "al ice" }),
    TypeError,
  );
});

Deno.test("signChallenge makes a 64-byte signature that verifyChallenge accepts", async () => {
  assert.equal(SIGNATURE.length, 64);
  assert.equal(
    await verifyChallenge(IDENTITY.publicRaw, MESSAGE, SIGNATURE),
    true,
  );
});

Deno.test("verifyChallenge rejects a signature made for another session, challenge or name", async () => {
  const variants = [
    { transcriptHash: randomBytes(32), challenge: CHALLENGE, name: "alice" },
    {
      transcriptHash: TRANSCRIPT_HASH,
      challenge: randomBytes(32),
      name: "alice",
    },
    { transcriptHash: TRANSCRIPT_HASH, challenge: CHALLENGE, name: "bob" },
  ];
  for (const variant of variants) {
    const message = identityChallengeMessage(variant);
    assert.equal(
      await verifyChallenge(IDENTITY.publicRaw, message, SIGNATURE),
      false,
      `accepted for ${JSON.stringify(variant.name)}`,
    );
  }
});

Deno.test("verifyChallenge rejects a tampered signature or message", async () => {
  for (const index of [0, 31, 32, 63]) {
    const tampered = SIGNATURE.slice();
    tampered[index]! ^= 0x01;
    assert.equal(
      await verifyChallenge(IDENTITY.publicRaw, MESSAGE, tampered),
      false,
      `accepted with byte ${index} flipped`,
    );
  }
  const message = MESSAGE.slice();
  message[message.length - 1]! ^= 0x01;
  assert.equal(
    await verifyChallenge(IDENTITY.publicRaw, message, SIGNATURE),
    false,
  );
});

Deno.test("verifyChallenge rejects a signature by a different key", async () => {
  const otherSignature = await signChallenge(OTHER, MESSAGE);
  assert.equal(
    await verifyChallenge(IDENTITY.publicRaw, MESSAGE, otherSignature),
    false,
  );
  assert.equal(
    await verifyChallenge(OTHER.publicRaw, MESSAGE, SIGNATURE),
    false,
  );
});

Deno.test("verifyChallenge returns false, never throws, on malformed keys and signatures", async () => {
  const cases: [Uint8Array, Uint8Array][] = [
    [IDENTITY.publicRaw.slice(0, 31), SIGNATURE],
    [concatBytes(IDENTITY.publicRaw, new Uint8Array(1)), SIGNATURE],
    [new Uint8Array(0), SIGNATURE],
    [new Uint8Array(32), SIGNATURE],
    [new Uint8Array(32).fill(0xff), SIGNATURE],
    [IDENTITY.publicRaw, SIGNATURE.slice(0, 63)],
    [IDENTITY.publicRaw, concatBytes(SIGNATURE, new Uint8Array(1))],
    [IDENTITY.publicRaw, new Uint8Array(0)],
    [IDENTITY.publicRaw, new Uint8Array(64)],
    [IDENTITY.publicRaw, new Uint8Array(64).fill(0xff)],
  ];
  for (const [publicRaw, signature] of cases) {
    assert.equal(
      await verifyChallenge(publicRaw, MESSAGE, signature),
      false,
      `accepted key of ${publicRaw.length} and signature of ${signature.length} bytes`,
    );
  }
  const notBytes = "not bytes" as unknown as Uint8Array;
  assert.equal(await verifyChallenge(notBytes, MESSAGE, SIGNATURE), false);
  assert.equal(
    await verifyChallenge(IDENTITY.publicRaw, notBytes, SIGNATURE),
    false,
  );
  assert.equal(
    await verifyChallenge(IDENTITY.publicRaw, MESSAGE, notBytes),
    false,
  );
});

Deno.test("verifyChallenge accepts bytes that are a view into a larger buffer", async () => {
  const buffer = new Uint8Array(200);
  buffer.set(IDENTITY.publicRaw, 10);
  buffer.set(SIGNATURE, 100);
  assert.equal(
    await verifyChallenge(
      buffer.subarray(10, 42),
      MESSAGE,
      buffer.subarray(100, 164),
    ),
    true,
  );
});
