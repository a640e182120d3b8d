import assert from "node:assert/strict";
import {
  generateIdentity,
  IDENTITY_LABEL,
  identityChallengeMessage,
  identityFingerprint,
  IdentityKeyError,
  identityKeyProblem,
  importIdentityPem,
  legacyIdentityChallengeMessage,
  signChallenge,
  verifyChallenge,
} from "../../src/crypto/identity.ts";
import { generateRsaKeyPair } from "../../src/crypto/keys.ts";
import {
  FORGED_KEY,
  FORGED_SIGNATURE,
  hexBytes,
  SMALL_ORDER_KEYS,
} from "../_helpers/small_order.ts";
import {
  concatBytes,
  fromBase64,
  randomBytes,
  toBase64,
  u32be,
  utf8Encode,
} from "../../src/crypto/bytes.ts";

const GENERATED = await generateIdentity();
const IDENTITY = await importIdentityPem(GENERATED.privatePem);
const OTHER = await importIdentityPem((await generateIdentity()).privatePem);

const TRANSCRIPT_HASH = randomBytes(32);
const CHALLENGE = randomBytes(32);
const MESSAGE = identityChallengeMessage({
  publicKey: IDENTITY.publicRaw,
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

Deno.test("identityChallengeMessage length-prefixes the label, public key, transcript hash, challenge and lower-case name", () => {
  const expected = concatBytes(
    u32be(18),
    utf8Encode("chat/1 identity v2"),
    u32be(32),
    IDENTITY.publicRaw,
    u32be(32),
    TRANSCRIPT_HASH,
    u32be(32),
    CHALLENGE,
    u32be(5),
    utf8Encode("alice"),
  );
  assert.equal(IDENTITY_LABEL, "chat/1 identity v2");
  assert.deepEqual(MESSAGE, expected);
  assert.equal(MESSAGE.length, 4 + 18 + 4 + 32 + 4 + 32 + 4 + 32 + 4 + 5);
});

Deno.test("legacyIdentityChallengeMessage is the first format: old label, no key", () => {
  const legacy = legacyIdentityChallengeMessage({
    transcriptHash: TRANSCRIPT_HASH,
    challenge: CHALLENGE,
    name: "Alice",
  });
  assert.deepEqual(
    legacy,
    concatBytes(
      u32be(15),
      utf8Encode("chat/1 identity"),
      u32be(32),
      TRANSCRIPT_HASH,
      u32be(32),
      CHALLENGE,
      u32be(5),
      utf8Encode("alice"),
    ),
  );
});

Deno.test("verifyChallenge rejects a signature made for the same fields under another key", async () => {
  // The signed key is part of the message: a proof names its key.
  const forOther = identityChallengeMessage({
    publicKey: OTHER.publicRaw,
    transcriptHash: TRANSCRIPT_HASH,
    challenge: CHALLENGE,
    name: "alice",
  });
  assert.notDeepEqual(forOther, MESSAGE);
  assert.equal(
    await verifyChallenge(IDENTITY.publicRaw, forOther, SIGNATURE),
    false,
  );
});

Deno.test("identityChallengeMessage treats names that differ only in case as the same name", () => {
  const upper = identityChallengeMessage({
    publicKey: IDENTITY.publicRaw,
    transcriptHash: TRANSCRIPT_HASH,
    challenge: CHALLENGE,
    name: "ALICE",
  });
  assert.deepEqual(upper, MESSAGE);
});

Deno.test("identityChallengeMessage rejects wrong-length keys, hashes and challenges and invalid names", () => {
  const base = {
    publicKey: IDENTITY.publicRaw,
    transcriptHash: TRANSCRIPT_HASH,
    challenge: CHALLENGE,
  };
  assert.throws(
    () =>
      identityChallengeMessage({
        ...base,
        publicKey: new Uint8Array(33),
        name: "alice",
      }),
    RangeError,
  );
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
  const publicKey = IDENTITY.publicRaw;
  const variants = [
    {
      publicKey,
      transcriptHash: randomBytes(32),
      challenge: CHALLENGE,
      name: "alice",
    },
    {
      publicKey,
      transcriptHash: TRANSCRIPT_HASH,
      challenge: randomBytes(32),
      name: "alice",
    },
    {
      publicKey,
      transcriptHash: TRANSCRIPT_HASH,
      challenge: CHALLENGE,
      name: "bob",
    },
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

// ---- Keys of small order (issue 14) ----

Deno.test("the issue's forgery verifies under WebCrypto for any message, so the key must be refused before it", async () => {
  // The platform's Ed25519 accepts it (the reason for the list): if this ever
  // fails, the runtime started refusing small-order keys itself.
  const key = await crypto.subtle.importKey(
    "raw",
    FORGED_KEY,
    "Ed25519",
    false,
    ["verify"],
  );
  for (const text of ["any message", "another one"]) {
    assert.equal(
      await crypto.subtle.verify(
        "Ed25519",
        key,
        FORGED_SIGNATURE,
        utf8Encode(text),
      ),
      true,
    );
  }
});

Deno.test("verifyChallenge refuses the issue's forgery: key 01 00..00, R = 01 00..00, S = 0", async () => {
  const message = identityChallengeMessage({
    publicKey: FORGED_KEY,
    transcriptHash: TRANSCRIPT_HASH,
    challenge: CHALLENGE,
    name: "alice",
  });
  assert.equal(
    await verifyChallenge(FORGED_KEY, message, FORGED_SIGNATURE),
    false,
  );
  assert.equal(await verifyChallenge(FORGED_KEY, MESSAGE, SIGNATURE), false);
});

Deno.test("identityKeyProblem refuses every small-order encoding, with either sign bit", () => {
  assert.equal(SMALL_ORDER_KEYS.length, 14);
  for (const key of SMALL_ORDER_KEYS) {
    assert.match(
      identityKeyProblem(key) ?? "accepted",
      /^the key is a point of small order, for which anyone can forge a signature$/,
      [...key].map((b) => b.toString(16).padStart(2, "0")).join(""),
    );
  }
});

Deno.test("verifyChallenge refuses every small-order key, whatever the signature", async () => {
  for (const key of SMALL_ORDER_KEYS) {
    assert.equal(await verifyChallenge(key, MESSAGE, FORGED_SIGNATURE), false);
    assert.equal(await verifyChallenge(key, MESSAGE, SIGNATURE), false);
  }
});

Deno.test("identityKeyProblem refuses non-canonical encodings (y of p or more) and passes the values just below p", () => {
  for (let low = 0xed; low <= 0xff; low++) {
    for (const top of [0x7f, 0xff]) {
      const key = new Uint8Array(32).fill(0xff);
      key[0] = low;
      key[31] = top;
      assert.notEqual(identityKeyProblem(key), null, `y low byte ${low}`);
    }
  }
  // p - 2 and the like are canonical: whether they are points is Ed25519's
  // business (and p - 1 is on the small-order list).
  const belowP = new Uint8Array(32).fill(0xff);
  belowP[0] = 0xeb;
  belowP[31] = 0x7f;
  assert.equal(identityKeyProblem(belowP), null);
});

Deno.test("identityKeyProblem passes generated keys and RFC 8032's test key, which still sign and verify", async () => {
  const rfc8032 = hexBytes(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
  );
  for (const key of [IDENTITY.publicRaw, OTHER.publicRaw, rfc8032]) {
    assert.equal(identityKeyProblem(key), null);
  }
  assert.equal(GENERATED.publicRaw.length, 32);
  assert.equal(identityKeyProblem(GENERATED.publicRaw), null);
  assert.equal(
    await verifyChallenge(IDENTITY.publicRaw, MESSAGE, SIGNATURE),
    true,
  );
});

Deno.test("identityKeyProblem names a key of the wrong length", () => {
  assert.match(
    identityKeyProblem(new Uint8Array(31)) ?? "",
    /32 bytes, not 31/,
  );
});

// ---- docs/PROTOCOL.md A.3: the document's bytes, checked ----

/** The hex (and base64) values of a fenced block in PROTOCOL.md's A.3. */
async function protocolVector(): Promise<Map<string, string>> {
  const doc = await Deno.readTextFile(
    new URL("../../docs/PROTOCOL.md", import.meta.url),
  );
  const start = doc.indexOf("### A.3 Identity proof");
  assert.ok(start >= 0, "PROTOCOL.md has no A.3");
  const block = doc.slice(start).split("```")[1]!;
  // "label <hex>" or "label\n        <hex>" lines; continuation lines are
  // indented hex. Collects each label's hex digits in order.
  const values = new Map<string, string>();
  let label = "";
  for (const line of block.split("\n")) {
    const labelled = /^(\S[^:]*?)(?:,.*)?(?:\s{2,}(.*))?$/.exec(line);
    if (line.trim() === "") continue;
    if (!line.startsWith(" ") && labelled) {
      label = labelled[1]!.trim();
      const rest = labelled[2] ?? "";
      values.set(
        label,
        /^[0-9a-f ]+$/.test(rest) ? rest.replace(/ /g, "") : "",
      );
      continue;
    }
    const text = line.trim();
    if (text.startsWith("base64 ")) {
      values.set(`${label} base64`, text.slice(7));
    } else if (text.startsWith("SHA256:")) {
      values.set(label, text);
    } else if (/^[0-9a-f ]+$/.test(text)) {
      values.set(label, (values.get(label) ?? "") + text.replace(/ /g, ""));
    }
  }
  return values;
}

Deno.test("PROTOCOL.md A.3's identity proof vector is what this code computes", async () => {
  const vector = await protocolVector();
  const get = (label: string) => {
    const value = vector.get(label);
    assert.ok(value, `A.3 has no '${label}': ${[...vector.keys()]}`);
    return value;
  };
  const seed = hexBytes(get("private key (seed)"));
  // PKCS#8 for an Ed25519 seed (RFC 8410): a fixed prefix, then the seed.
  const pkcs8 = concatBytes(hexBytes("302e020100300506032b657004220420"), seed);
  const pem = `-----BEGIN PRIVATE KEY-----\n${
    toBase64(pkcs8)
  }\n-----END PRIVATE KEY-----\n`;
  const identity = await importIdentityPem(pem);
  assert.deepEqual(identity.publicRaw, hexBytes(get("public key")));
  assert.equal(toBase64(identity.publicRaw), get("public key base64"));
  assert.equal(identity.fingerprint, get("fingerprint"));
  const message = identityChallengeMessage({
    publicKey: identity.publicRaw,
    transcriptHash: hexBytes(get("TH")),
    challenge: hexBytes(get("challenge (nonce)")),
    name: "Alice",
  });
  assert.equal(toHex(message), get("message (revision 2)"));
  // Ed25519 is deterministic: the document's signature is the one we make.
  const signature = await signChallenge(identity, message);
  assert.equal(toHex(signature), get("signature"));
  assert.equal(toBase64(signature), get("signature base64"));
  assert.equal(
    await verifyChallenge(identity.publicRaw, message, signature),
    true,
  );
});

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
