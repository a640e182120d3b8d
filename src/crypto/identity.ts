// This module is browser compatible.

/**
 * Long-term client identity keys (Ed25519) and the challenge that proves a
 * client holds one.
 *
 * A server binds a user name to the fingerprint of an identity public key the
 * first time the name is used; afterwards the client proves possession of the
 * key by signing {@link identityChallengeMessage} inside the encrypted session:
 *
 *     message   = field("chat/1 identity v2") || field(public key) || field(TH)
 *              || field(challenge) || field(utf8(lower-case name))
 *     field(x)  = u32be(byte length of x) || x
 *     signature = Ed25519(identity private key, message)          (64 bytes)
 *
 * TH is the session's transcript hash (handshake.ts, 32 bytes) and the
 * challenge is 32 fresh random bytes from the server.
 *
 * Public keys travel and are fingerprinted as the 32-byte raw Ed25519 key.
 * Keys of small order, and encodings that are not canonical, are refused
 * everywhere ({@link identityKeyProblem}): with such a key a signature can be
 * made without any private key.
 */

import {
  arrayBufferBacked,
  concatBytes,
  fromBase64,
  randomBytes,
  toBase64,
  u32be,
  utf8Encode,
} from "./bytes.ts";
import { isValidName, NAME_RULE, nameKey } from "../protocol/limits.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/**
 * Domain-separation label of the signed challenge, used as UTF-8. "v2": the
 * message includes the public key (docs/PROTOCOL.md section 10).
 */
export const IDENTITY_LABEL = "chat/1 identity v2";

/**
 * The label of the first identity proof, which did not include the key. Not
 * accepted any more; a server only recognises it to tell an old client to
 * update.
 */
export const LEGACY_IDENTITY_LABEL = "chat/1 identity";

/** The identity-proof revision a server announces in `challenge.proof`. */
export const IDENTITY_PROOF_VERSION = 2;

/** Length of a raw Ed25519 public key. */
export const IDENTITY_PUBLIC_KEY_BYTES = 32;

/** Length of an Ed25519 signature. */
export const IDENTITY_SIGNATURE_BYTES = 64;

/** Length of the server's random challenge. */
export const IDENTITY_CHALLENGE_BYTES = 32;

/** Length of the session transcript hash (SHA-256). */
export const TRANSCRIPT_HASH_BYTES = 32;

// ---- End of protocol constants. ----

const ED25519: Algorithm = { name: "Ed25519" };
const PEM_PRIVATE = "PRIVATE KEY";
const PEM_LINE_CHARS = 64;

/** No PEM identity key comes near this; refusing early keeps parsing cheap. */
const MAX_PEM_CHARS = 64 * 1024;

/** An identity key that cannot be used, with a message saying why. */
export class IdentityKeyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdentityKeyError";
  }
}

/** A usable identity: the key to sign with and the public half to show. */
export interface Identity {
  /** Non-extractable Ed25519 private key with the `sign` usage. */
  privateKey: CryptoKey;
  /** The raw 32-byte Ed25519 public key. */
  publicRaw: Uint8Array<ArrayBuffer>;
  /** {@link identityFingerprint} of the public key. */
  fingerprint: string;
}

/** A freshly generated identity, ready to be written to disk. */
export interface GeneratedIdentity {
  /** PKCS#8 PEM (`BEGIN PRIVATE KEY`). */
  privatePem: string;
  /** The raw 32-byte Ed25519 public key. */
  publicRaw: Uint8Array<ArrayBuffer>;
  /** {@link identityFingerprint} of the public key. */
  fingerprint: string;
}

/** What the signed challenge is made of. */
export interface IdentityChallenge {
  /** The raw 32-byte identity public key whose possession is proven. */
  publicKey: Uint8Array;
  /** `SessionKeys.transcriptHash` of the session the proof is for. */
  transcriptHash: Uint8Array;
  /** The server's fresh random challenge. */
  challenge: Uint8Array;
  /** The user name being claimed, in any case. */
  name: string;
}

/**
 * The y coordinates (little endian, the top bit that carries the sign of x
 * cleared) of every Ed25519 point of small order, as libsodium's
 * `has_small_order` lists them: 0 (the two points of order 4), 1 (the
 * identity), the two y values of the four points of order 8, p - 1 (order 2),
 * and p and p + 1 (non-canonical spellings of 0 and 1). With either sign bit
 * that is every encoding of a point whose order divides 8. A byte comparison,
 * not arithmetic: these are public constants.
 */
const SMALL_ORDER_Y: readonly string[] = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

/**
 * Why `publicRaw` cannot be an identity public key, or null if nothing is
 * known against it (whether it is a point at all is left to Ed25519):
 *
 * - a point of small order: a signature with R = that point's multiple and
 *   S = 0 verifies for every message (for the key `01 00..00`, R = `01
 *   00..00`), so anyone could prove "possession" of it;
 * - a y coordinate of p or more: a non-canonical encoding, which RFC 8032
 *   says to reject, and which would give one point several fingerprints.
 */
export function identityKeyProblem(publicRaw: Uint8Array): string | null {
  if (publicRaw.length !== IDENTITY_PUBLIC_KEY_BYTES) {
    return `an identity public key is ${IDENTITY_PUBLIC_KEY_BYTES} bytes, not ${publicRaw.length}`;
  }
  let y = "";
  for (let i = 0; i < IDENTITY_PUBLIC_KEY_BYTES; i++) {
    const byte = i === IDENTITY_PUBLIC_KEY_BYTES - 1
      ? publicRaw[i]! & 0x7f
      : publicRaw[i]!;
    y += byte.toString(16).padStart(2, "0");
  }
  if (SMALL_ORDER_Y.includes(y)) {
    return "the key is a point of small order, for which anyone can forge a signature";
  }
  // y >= p = 2^255 - 19: ed ff .. ff 7f and above, little endian.
  if (y.slice(2) === "ff".repeat(30) + "7f" && publicRaw[0]! >= 0xed) {
    return "the key is not canonically encoded";
  }
  return null;
}

/**
 * Every 32-byte encoding {@linkcode identityKeyProblem} refuses: the small-
 * order points with either sign bit, and the non-canonical y >= p. A finite
 * list, so keys bound before the check existed can be found by fingerprint.
 */
export function unusableIdentityKeys(): Uint8Array[] {
  const candidates: Uint8Array[] = [];
  const fromHex = (hex: string) =>
    Uint8Array.from(hex.match(/../g)!, (byte) => parseInt(byte, 16));
  for (const y of SMALL_ORDER_Y) candidates.push(fromHex(y));
  for (let first = 0xed; first <= 0xff; first++) {
    candidates.push(
      Uint8Array.of(first, ...new Uint8Array(30).fill(0xff), 0x7f),
    );
  }
  const keys = new Map<string, Uint8Array>();
  for (const clear of candidates) {
    const set = clear.slice();
    set[IDENTITY_PUBLIC_KEY_BYTES - 1]! |= 0x80;
    for (const key of [clear, set]) {
      if (identityKeyProblem(key) !== null) keys.set(toBase64(key), key);
    }
  }
  return [...keys.values()];
}

/** Generates a new Ed25519 identity. */
export async function generateIdentity(): Promise<GeneratedIdentity> {
  const pair = await crypto.subtle.generateKey(ED25519, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(
    await crypto.subtle.exportKey("pkcs8", pair.privateKey),
  );
  const publicRaw = new Uint8Array(
    await crypto.subtle.exportKey("raw", pair.publicKey),
  );
  // Cannot happen for a key derived from a seed (its order is the group's
  // prime), but a broken generator must not hand out a forgeable key.
  const problem = identityKeyProblem(publicRaw);
  if (problem !== null) {
    throw new IdentityKeyError(`The new identity key is unusable: ${problem}`);
  }
  return {
    privatePem: toPem(PEM_PRIVATE, pkcs8),
    publicRaw,
    fingerprint: await identityFingerprint(publicRaw),
  };
}

/**
 * Imports an unencrypted Ed25519 private key from PKCS#8 PEM and derives its
 * public key.
 *
 * @throws {IdentityKeyError} if the text is not a usable Ed25519 private key
 */
export async function importIdentityPem(pem: string): Promise<Identity> {
  const pkcs8 = parsePrivatePem(pem);

  // Extractable only long enough to read the public key: WebCrypto cannot
  // export a public key from a private one, but its JWK carries `x`.
  let extractable: CryptoKey;
  try {
    extractable = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8,
      ED25519,
      true,
      ["sign"],
    );
  } catch (error) {
    throw new IdentityKeyError(
      "Not an Ed25519 private key, or the key data is corrupt",
      { cause: error },
    );
  }
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  const publicRaw = jwk.x === undefined ? null : fromBase64Url(jwk.x);
  if (publicRaw === null || publicRaw.length !== IDENTITY_PUBLIC_KEY_BYTES) {
    throw new IdentityKeyError("Not an Ed25519 private key");
  }
  const problem = identityKeyProblem(publicRaw);
  if (problem !== null) {
    throw new IdentityKeyError(
      `Unusable Ed25519 identity key: ${problem}; create a new identity with 'chat keygen --identity'`,
    );
  }
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8,
    ED25519,
    false,
    ["sign"],
  );

  // A key whose halves disagree would only show up as the server refusing
  // every login; catch it when the key is loaded instead.
  const probe = randomBytes(32);
  if (!await verifyChallenge(publicRaw, probe, await sign(privateKey, probe))) {
    throw new IdentityKeyError("The Ed25519 private key is corrupt");
  }
  return {
    privateKey,
    publicRaw,
    fingerprint: await identityFingerprint(publicRaw),
  };
}

/**
 * OpenSSH-style fingerprint of an identity public key: `SHA256:` and the
 * unpadded base64 of the SHA-256 of the 32-byte raw key.
 *
 * @throws {RangeError} if `publicRaw` is not 32 bytes
 */
export async function identityFingerprint(
  publicRaw: Uint8Array,
): Promise<string> {
  if (publicRaw.length !== IDENTITY_PUBLIC_KEY_BYTES) {
    throw new RangeError(
      `An identity public key is ${IDENTITY_PUBLIC_KEY_BYTES} bytes, got ${publicRaw.length}`,
    );
  }
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", arrayBufferBacked(publicRaw)),
  );
  return "SHA256:" + toBase64(digest).replace(/=+$/, "");
}

/**
 * The bytes a client signs to prove it holds the identity key `publicKey`
 * for `name`.
 *
 * The transcript hash ties the proof to this one encrypted session: a man in
 * the middle who relays the server's challenge to the real client sits in a
 * different session (different TH), so the signature he gets back is useless
 * to him; and a recorded signature cannot be replayed in a later session. The
 * random challenge keeps the proof fresh even if a transcript hash ever
 * repeated, and the name stops a proof for one name being used for another.
 * The public key is included because an Ed25519 signature does not commit to
 * one key in every implementation (a signature can verify under a key of
 * small order, or under two keys at once): signing it rules out a proof made
 * for one key being counted for another. Every field is length-prefixed so no
 * two different inputs encode to the same bytes.
 *
 * @throws {RangeError} if the key is not 32 bytes or the hash or challenge is
 * not 32 bytes
 * @throws {TypeError} if the name is not a valid user name
 */
export function identityChallengeMessage(
  fields: IdentityChallenge,
): Uint8Array<ArrayBuffer> {
  const { publicKey, transcriptHash, challenge, name } = fields;
  if (publicKey.length !== IDENTITY_PUBLIC_KEY_BYTES) {
    throw new RangeError(
      `The identity public key must be ${IDENTITY_PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`,
    );
  }
  return fieldsMessage([
    utf8Encode(IDENTITY_LABEL),
    publicKey,
    ...challengeFields(transcriptHash, challenge, name),
  ]);
}

/**
 * The message the first identity proof signed (label "chat/1 identity", no
 * key). Never accepted: a server verifies a failed proof against it only to
 * tell an out-of-date client to update, rather than that its proof is wrong.
 */
export function legacyIdentityChallengeMessage(
  fields: Omit<IdentityChallenge, "publicKey">,
): Uint8Array<ArrayBuffer> {
  const { transcriptHash, challenge, name } = fields;
  return fieldsMessage([
    utf8Encode(LEGACY_IDENTITY_LABEL),
    ...challengeFields(transcriptHash, challenge, name),
  ]);
}

function challengeFields(
  transcriptHash: Uint8Array,
  challenge: Uint8Array,
  name: string,
): Uint8Array[] {
  if (transcriptHash.length !== TRANSCRIPT_HASH_BYTES) {
    throw new RangeError(
      `The transcript hash must be ${TRANSCRIPT_HASH_BYTES} bytes, got ${transcriptHash.length}`,
    );
  }
  if (challenge.length !== IDENTITY_CHALLENGE_BYTES) {
    throw new RangeError(
      `The identity challenge must be ${IDENTITY_CHALLENGE_BYTES} bytes, got ${challenge.length}`,
    );
  }
  if (!isValidName(name)) {
    throw new TypeError(`Invalid user name: ${NAME_RULE}`);
  }
  return [transcriptHash, challenge, utf8Encode(nameKey(name))];
}

function fieldsMessage(fields: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return concatBytes(
    ...fields.flatMap((field) => [u32be(field.length), field]),
  );
}

/** Signs a challenge message; the signature is 64 bytes. */
export async function signChallenge(
  identity: Identity,
  message: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return await sign(identity.privateKey, message);
}

/**
 * Whether `signature` is a valid signature of `message` by the identity
 * public key `publicRaw`. Never throws: any malformed input (a key that is
 * not 32 bytes or not a valid point, a key {@link identityKeyProblem} refuses,
 * a signature that is not 64 bytes, a value of the wrong type) is simply not
 * a valid proof.
 */
export async function verifyChallenge(
  publicRaw: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    if (
      !(publicRaw instanceof Uint8Array) ||
      !(message instanceof Uint8Array) ||
      !(signature instanceof Uint8Array) ||
      publicRaw.length !== IDENTITY_PUBLIC_KEY_BYTES ||
      signature.length !== IDENTITY_SIGNATURE_BYTES ||
      identityKeyProblem(publicRaw) !== null
    ) {
      return false;
    }
    const publicKey = await crypto.subtle.importKey(
      "raw",
      arrayBufferBacked(publicRaw),
      ED25519,
      false,
      ["verify"],
    );
    return await crypto.subtle.verify(
      ED25519,
      publicKey,
      arrayBufferBacked(signature),
      arrayBufferBacked(message),
    );
  } catch {
    return false;
  }
}

async function sign(
  privateKey: CryptoKey,
  message: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await crypto.subtle.sign(ED25519, privateKey, arrayBufferBacked(message)),
  );
}

/** Unpadded base64url (as in JWK) -> bytes, or null if it is not that. */
function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const standard = text.replaceAll("-", "+").replaceAll("_", "/");
  try {
    return fromBase64(standard + "=".repeat((4 - standard.length % 4) % 4));
  } catch {
    return null;
  }
}

function toPem(label: string, der: Uint8Array): string {
  const body = toBase64(der);
  let out = `-----BEGIN ${label}-----\n`;
  for (let i = 0; i < body.length; i += PEM_LINE_CHARS) {
    out += body.slice(i, i + PEM_LINE_CHARS) + "\n";
  }
  return out + `-----END ${label}-----\n`;
}

/**
 * The DER inside the first PEM block, which must be an unencrypted PKCS#8
 * private key. Text around the block is ignored, as OpenSSL does.
 */
function parsePrivatePem(text: string): Uint8Array<ArrayBuffer> {
  const expected = `'-----BEGIN ${PEM_PRIVATE}-----'`;
  if (typeof text !== "string" || text.length > MAX_PEM_CHARS) {
    throw new IdentityKeyError(
      `Not a PEM identity key (expected ${expected})`,
    );
  }
  const begin = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text);
  if (begin === null) {
    throw new IdentityKeyError(
      `Not a PEM identity key (expected ${expected})`,
    );
  }
  const label = begin[1]!;
  switch (label) {
    case PEM_PRIVATE:
      break;
    case "ENCRYPTED PRIVATE KEY":
      throw new IdentityKeyError(
        "Encrypted identity keys are not supported; write an unencrypted " +
          "copy with 'openssl pkey -in <file> -out <new file>'",
      );
    case "OPENSSH PRIVATE KEY":
      throw new IdentityKeyError(
        "OpenSSH-format private keys are not supported; convert a copy with " +
          "'ssh-keygen -p -m PKCS8 -f <copy>' or create an identity with " +
          "'chat keygen --identity'",
      );
    case "PUBLIC KEY":
      throw new IdentityKeyError(
        `This is a public key, not an identity private key (expected ${expected})`,
      );
    default:
      throw new IdentityKeyError(
        `Unsupported PEM type '${label}' for an identity key (expected ${expected})`,
      );
  }
  const end = `-----END ${label}-----`;
  const bodyStart = begin.index + begin[0].length;
  const endIndex = text.indexOf(end, bodyStart);
  if (endIndex < 0) {
    throw new IdentityKeyError(
      `Truncated PEM: no '${end}' line after '${begin[0]}'`,
    );
  }
  const base64 = text.slice(bodyStart, endIndex).replace(/\s+/g, "");
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = fromBase64(base64);
  } catch (error) {
    throw new IdentityKeyError(
      "Corrupt PEM: the identity key is not valid base64",
      { cause: error },
    );
  }
  if (der.length === 0) {
    throw new IdentityKeyError("Corrupt PEM: the identity key block is empty");
  }
  return der;
}
