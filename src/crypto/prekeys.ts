// This module is browser compatible.

/**
 * End-to-end prekeys (issue 17 item 1; docs/PROTOCOL.md "End to end (in
 * progress)"): the X25519 keys a user publishes through the server so that
 * others can start an X3DH agreement with them while they are offline, each
 * signed by the user's Ed25519 identity key (identity.ts).
 *
 * A bundle holds three kinds of X25519 key:
 *
 * - the identity DH key (kind 1, id 0): the X25519 half of the identity.
 *   WebCrypto cannot turn an Ed25519 key into an X25519 one (Signal's XEdDSA
 *   conversion needs field arithmetic we may not write), so the identity key
 *   signs a separate long-term X25519 key instead. That is as sound: the
 *   signature binds it to the identity exactly as the conversion would, and
 *   the agreement's associated data names both keys of both sides;
 * - the signed prekey (kind 2): medium-term, replaced now and then;
 * - one-time prekeys (kind 3): the server hands each out once and deletes it.
 *
 * Every key carries its own signature, so a one-time key handed out alone can
 * still be checked:
 *
 *     message   = field("chat/1 e2e prekey") || field(identity public key)
 *              || field(u8 kind) || field(u32be id) || field(X25519 public key)
 *     field(x)  = u32be(byte length of x) || x
 *     signature = Ed25519(identity private key, message)
 */

import {
  concatBytes,
  fromBase64,
  toBase64,
  u32be,
  utf8Encode,
} from "./bytes.ts";
import {
  type Identity,
  IDENTITY_PUBLIC_KEY_BYTES,
  IDENTITY_SIGNATURE_BYTES,
  identityKeyProblem,
  signChallenge,
  verifyChallenge,
} from "./identity.ts";
import {
  generateX25519KeyPair,
  X25519_BYTES,
  type X25519KeyPair,
} from "./x25519.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/** Domain-separation label of a prekey signature, used as UTF-8. */
export const PREKEY_LABEL = "chat/1 e2e prekey";

/** The kind byte of each signed key. Persisted and on the wire: stable. */
export const PrekeyKind = { dh: 1, signed: 2, oneTime: 3 } as const;
export type PrekeyKind = typeof PrekeyKind[keyof typeof PrekeyKind];

/** The most one-time prekeys one bundle may carry. */
export const MAX_ONE_TIME_PREKEYS = 100;

/** The largest key id. */
export const MAX_PREKEY_ID = 0xffff_ffff;

// ---- End of protocol constants. ----

/** A malformed or wrongly signed bundle, with the reason. */
export class PrekeyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PrekeyError";
  }
}

/** One X25519 public key with its id and identity signature. */
export interface SignedPrekey {
  id: number;
  /** 32-byte raw X25519 public key. */
  key: Uint8Array<ArrayBuffer>;
  /** 64-byte Ed25519 signature ({@link prekeySignatureMessage}). */
  sig: Uint8Array<ArrayBuffer>;
}

/**
 * What a user publishes (with up to {@link MAX_ONE_TIME_PREKEYS} one-time
 * keys) and what another user fetches (with at most one).
 */
export interface PrekeyBundle {
  /** 32-byte raw Ed25519 identity public key. */
  identity: Uint8Array<ArrayBuffer>;
  /** The identity DH key; its id is 0. */
  dh: SignedPrekey;
  signed: SignedPrekey;
  oneTime: SignedPrekey[];
  /**
   * Its owner's client reads a private text with the sender's time (content
   * type 3, docs/PROTOCOL.md 11.7): JSON `"sender_time":true`. Absent from
   * older clients' bundles: they are sent type 1, which they can show.
   */
  senderTime?: true;
}

/** The private halves a bundle's owner keeps. */
export interface PrekeySecrets {
  dh: X25519KeyPair;
  signed: { id: number; pair: X25519KeyPair };
  /** One-time private keys by id; deleted once used. */
  oneTime: Map<number, X25519KeyPair>;
}

/** The bytes the identity key signs for one prekey. */
export function prekeySignatureMessage(
  identity: Uint8Array,
  kind: PrekeyKind,
  id: number,
  key: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return concatBytes(
    ...[
      utf8Encode(PREKEY_LABEL),
      identity,
      Uint8Array.of(kind),
      u32be(id),
      key,
    ].flatMap((field) => [u32be(field.length), field]),
  );
}

/** Signs the X25519 public key `pair` as a prekey of `kind` and `id`. */
export async function signPrekey(
  identity: Identity,
  kind: PrekeyKind,
  id: number,
  pair: X25519KeyPair,
): Promise<SignedPrekey> {
  const message = prekeySignatureMessage(
    identity.publicRaw,
    kind,
    id,
    pair.publicRaw,
  );
  return {
    id,
    key: pair.publicRaw,
    sig: await signChallenge(identity, message),
  };
}

/** Options of {@link generatePrekeys}. */
export interface GeneratePrekeysOptions {
  /** The identity DH key to reuse (it is long-term); a new one if absent. */
  dh?: X25519KeyPair;
  signedId: number;
  firstOneTimeId: number;
  oneTimeCount: number;
  /** Key source; tests pass seeded keys for vectors. */
  generate?: () => Promise<X25519KeyPair>;
}

/** A new signed prekey and one-time prekeys, as a bundle and its secrets. */
export async function generatePrekeys(
  identity: Identity,
  options: GeneratePrekeysOptions,
): Promise<{ bundle: PrekeyBundle; secrets: PrekeySecrets }> {
  const generate = options.generate ?? generateX25519KeyPair;
  if (
    !Number.isInteger(options.oneTimeCount) || options.oneTimeCount < 0 ||
    options.oneTimeCount > MAX_ONE_TIME_PREKEYS
  ) {
    throw new RangeError(
      `One bundle carries 0 to ${MAX_ONE_TIME_PREKEYS} one-time prekeys, not ${options.oneTimeCount}`,
    );
  }
  const dh = options.dh ?? await generate();
  const signed = await generate();
  const oneTime = new Map<number, X25519KeyPair>();
  const signedOneTime: SignedPrekey[] = [];
  for (let i = 0; i < options.oneTimeCount; i++) {
    const id = (options.firstOneTimeId + i) % (MAX_PREKEY_ID + 1);
    const pair = await generate();
    oneTime.set(id, pair);
    signedOneTime.push(
      await signPrekey(identity, PrekeyKind.oneTime, id, pair),
    );
  }
  return {
    bundle: {
      identity: identity.publicRaw,
      dh: await signPrekey(identity, PrekeyKind.dh, 0, dh),
      signed: await signPrekey(
        identity,
        PrekeyKind.signed,
        options.signedId,
        signed,
      ),
      oneTime: signedOneTime,
    },
    secrets: { dh, signed: { id: options.signedId, pair: signed }, oneTime },
  };
}

/**
 * Checks every signature of a bundle against its identity key.
 *
 * @throws {PrekeyError} naming the first key that does not verify
 */
export async function verifyBundle(bundle: PrekeyBundle): Promise<void> {
  const problem = identityKeyProblem(bundle.identity);
  if (problem !== null) throw new PrekeyError(`Unusable identity: ${problem}`);
  if (bundle.dh.id !== 0) {
    throw new PrekeyError("The identity DH key must have id 0");
  }
  const checks: [string, PrekeyKind, SignedPrekey][] = [
    ["identity DH key", PrekeyKind.dh, bundle.dh],
    ["signed prekey", PrekeyKind.signed, bundle.signed],
    ...bundle.oneTime.map((key) =>
      ["one-time prekey", PrekeyKind.oneTime, key] as [
        string,
        PrekeyKind,
        SignedPrekey,
      ]
    ),
  ];
  for (const [what, kind, key] of checks) {
    await verifyPrekey(bundle.identity, kind, key, what);
  }
}

/**
 * Checks one prekey's signature by `identity`.
 *
 * @throws {PrekeyError} if it does not verify
 */
export async function verifyPrekey(
  identity: Uint8Array,
  kind: PrekeyKind,
  key: SignedPrekey,
  what = "prekey",
): Promise<void> {
  const message = prekeySignatureMessage(identity, kind, key.id, key.key);
  if (!await verifyChallenge(identity, message, key.sig)) {
    throw new PrekeyError(
      `The ${what} ${key.id} is not signed by the identity key`,
    );
  }
}

/** A bundle as JSON (docs/PROTOCOL.md): base64 keys and signatures. */
export interface BundleJson {
  identity: string;
  dh: SignedPrekeyJson;
  signed: SignedPrekeyJson;
  one_time: SignedPrekeyJson[];
  sender_time?: true;
}

/** One signed prekey as JSON. */
export interface SignedPrekeyJson {
  id: number;
  key: string;
  sig: string;
}

/** The JSON form of a bundle. */
export function encodeBundle(bundle: PrekeyBundle): BundleJson {
  return {
    identity: toBase64(bundle.identity),
    dh: encodeKey(bundle.dh),
    signed: encodeKey(bundle.signed),
    one_time: bundle.oneTime.map(encodeKey),
    ...(bundle.senderTime ? { sender_time: true as const } : {}),
  };
}

/**
 * A bundle from its JSON form; the shape and sizes are checked, the
 * signatures are not ({@link verifyBundle}).
 *
 * @throws {PrekeyError} if the value is not a well-formed bundle
 */
export function decodeBundle(value: unknown): PrekeyBundle {
  if (!isRecord(value)) throw new PrekeyError("A bundle must be an object");
  const oneTime = value.one_time;
  if (!Array.isArray(oneTime)) {
    throw new PrekeyError("'one_time' must be an array");
  }
  if (oneTime.length > MAX_ONE_TIME_PREKEYS) {
    throw new PrekeyError(
      `A bundle carries at most ${MAX_ONE_TIME_PREKEYS} one-time prekeys`,
    );
  }
  const bundle: PrekeyBundle = {
    identity: base64Field(
      value.identity,
      "identity",
      IDENTITY_PUBLIC_KEY_BYTES,
    ),
    dh: decodeKey(value.dh, "dh"),
    signed: decodeKey(value.signed, "signed"),
    oneTime: oneTime.map((key, i) => decodeKey(key, `one_time[${i}]`)),
  };
  // Anything but true (false, absent, another type) announces nothing.
  if (value.sender_time === true) bundle.senderTime = true;
  const ids = new Set(bundle.oneTime.map((key) => key.id));
  if (ids.size !== bundle.oneTime.length) {
    throw new PrekeyError("The one-time prekey ids must differ");
  }
  return bundle;
}

function encodeKey(key: SignedPrekey): SignedPrekeyJson {
  return { id: key.id, key: toBase64(key.key), sig: toBase64(key.sig) };
}

function decodeKey(value: unknown, where: string): SignedPrekey {
  if (!isRecord(value)) throw new PrekeyError(`'${where}' must be an object`);
  const id = value.id;
  if (
    typeof id !== "number" || !Number.isInteger(id) || id < 0 ||
    id > MAX_PREKEY_ID
  ) {
    throw new PrekeyError(
      `'${where}.id' must be an integer from 0 to ${MAX_PREKEY_ID}`,
    );
  }
  return {
    id,
    key: base64Field(value.key, `${where}.key`, X25519_BYTES),
    sig: base64Field(value.sig, `${where}.sig`, IDENTITY_SIGNATURE_BYTES),
  };
}

function base64Field(
  value: unknown,
  where: string,
  bytes: number,
): Uint8Array<ArrayBuffer> {
  let decoded: Uint8Array<ArrayBuffer> | null = null;
  if (typeof value === "string" && value.length <= 4 * bytes) {
    try {
      decoded = fromBase64(value);
    } catch {
      decoded = null;
    }
  }
  if (decoded === null || decoded.length !== bytes) {
    throw new PrekeyError(`'${where}' must be ${bytes} bytes in base64`);
  }
  return decoded;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
