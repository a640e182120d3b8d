// This module is browser compatible.

/**
 * The Double Ratchet (Signal's specification, revision 1) over X25519,
 * HKDF-SHA-256, HMAC-SHA-256 and AES-256-GCM:
 *
 *     KDF_RK(rk, dh) = HKDF(IKM = dh, salt = rk, info = "chat/1 e2e ratchet",
 *                           64 bytes) -> new rk (first 32) || chain key (last 32)
 *     KDF_CK(ck)     = message key HMAC-SHA-256(ck, 0x01),
 *                      next chain key HMAC-SHA-256(ck, 0x02)
 *     header         = DH ratchet public key (32) || u32be PN || u32be N
 *     ENCRYPT(mk)    = HKDF(IKM = mk, salt = 0x00 * 32,
 *                           info = "chat/1 e2e message", 44 bytes)
 *                      -> AES-256 key (32) || GCM nonce (12);
 *                      AES-256-GCM(plaintext, additional data = AD || header)
 *     message        = header (40 bytes) || ciphertext || tag (16)
 *
 * A message key encrypts exactly one message, so the nonce derived from it is
 * never reused. Keys are deleted as soon as they are used: a state stolen now
 * cannot open any earlier message it already opened (forward secrecy).
 * Skipped message keys (for messages that arrive out of order or never) are
 * kept, at most {@link MAX_SKIP} per chain step and {@link MAX_SKIPPED_KEYS}
 * in all, the oldest dropped first.
 *
 * States are plain bytes and numbers (structured-cloneable, so they can be
 * stored), and every operation returns a new state: a message that fails to
 * decrypt leaves the old one untouched, as the specification requires.
 */

import {
  arrayBufferBacked,
  concatBytes,
  equalBytes,
  toHex,
  u32be,
  utf8Encode,
} from "./bytes.ts";
import {
  generateX25519KeyPair,
  hkdf,
  hmacSha256,
  x25519,
  X25519_BYTES,
  type X25519KeyPair,
} from "./x25519.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/** HKDF info of the root-key step, used as UTF-8. */
export const RATCHET_INFO = "chat/1 e2e ratchet";

/** HKDF info of a message's AES key and nonce, used as UTF-8. */
export const MESSAGE_INFO = "chat/1 e2e message";

/** Header length: ratchet key (32), PN (4), N (4). */
export const HEADER_BYTES = X25519_BYTES + 8;

/** AES-GCM tag length. */
export const TAG_BYTES = 16;

/** The most message keys skipped in one chain. */
export const MAX_SKIP = 1000;

/** The most skipped message keys kept in all. */
export const MAX_SKIPPED_KEYS = 2000;

// ---- End of protocol constants. ----

/** A message that cannot be decrypted (tampered, replayed, too far ahead). */
export class RatchetError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RatchetError";
  }
}

/** One side's ratchet state. */
export interface RatchetState {
  /** Our current ratchet key pair. */
  dhs: X25519KeyPair;
  /** Their current ratchet public key, null before their first message. */
  dhr: Uint8Array<ArrayBuffer> | null;
  rk: Uint8Array<ArrayBuffer>;
  cks: Uint8Array<ArrayBuffer> | null;
  ckr: Uint8Array<ArrayBuffer> | null;
  ns: number;
  nr: number;
  pn: number;
  /** Skipped message keys by `hex(ratchet key) + ":" + N`, oldest first. */
  skipped: Map<string, Uint8Array<ArrayBuffer>>;
  /** The X3DH associated data, bound into every message. */
  ad: Uint8Array<ArrayBuffer>;
}

/** A message's header. */
export interface RatchetHeader {
  dh: Uint8Array<ArrayBuffer>;
  pn: number;
  n: number;
}

/** Where new ratchet key pairs come from (tests inject seeded ones). */
export type KeySource = () => Promise<X25519KeyPair>;

/** The initiator's state: she knows Bob's signed prekey, his first ratchet key. */
export async function ratchetInitAlice(
  sharedKey: Uint8Array<ArrayBuffer>,
  associatedData: Uint8Array<ArrayBuffer>,
  bobRatchetKey: Uint8Array<ArrayBuffer>,
  generate: KeySource = generateX25519KeyPair,
): Promise<RatchetState> {
  const dhs = await generate();
  const [rk, cks] = await kdfRk(
    sharedKey,
    await x25519(dhs.privateSeed, bobRatchetKey),
  );
  return {
    dhs,
    dhr: bobRatchetKey,
    rk,
    cks,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: new Map(),
    ad: associatedData,
  };
}

/** The responder's state: his signed prekey pair is his first ratchet key. */
export function ratchetInitBob(
  sharedKey: Uint8Array<ArrayBuffer>,
  associatedData: Uint8Array<ArrayBuffer>,
  signedPrekey: X25519KeyPair,
): RatchetState {
  return {
    dhs: signedPrekey,
    dhr: null,
    rk: sharedKey,
    cks: null,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: new Map(),
    ad: associatedData,
  };
}

/**
 * Encrypts `plaintext`; returns the message bytes and the next state.
 *
 * @throws {RatchetError} if this side has no sending chain yet (Bob before
 * Alice's first message)
 */
export async function ratchetEncrypt(
  state: RatchetState,
  plaintext: Uint8Array,
): Promise<{ state: RatchetState; message: Uint8Array<ArrayBuffer> }> {
  if (state.cks === null) {
    throw new RatchetError(
      "No sending chain yet: the first message comes from the initiator",
    );
  }
  const next = structuredClone(state);
  const [ck, mk] = await kdfCk(state.cks);
  next.cks = ck;
  const header = encodeHeader({
    dh: state.dhs.publicRaw,
    pn: state.pn,
    n: state.ns,
  });
  next.ns = state.ns + 1;
  const ciphertext = await seal(mk, concatBytes(state.ad, header), plaintext);
  return { state: next, message: concatBytes(header, ciphertext) };
}

/**
 * Decrypts a message; returns the plaintext and the next state.
 *
 * @throws {RatchetError} if the message is malformed, altered, replayed, for
 * a key already deleted, or more than {@link MAX_SKIP} messages ahead
 */
export async function ratchetDecrypt(
  state: RatchetState,
  message: Uint8Array,
  generate: KeySource = generateX25519KeyPair,
): Promise<{ state: RatchetState; plaintext: Uint8Array<ArrayBuffer> }> {
  if (message.length < HEADER_BYTES + TAG_BYTES) {
    throw new RatchetError("The message is too short");
  }
  const headerBytes = message.subarray(0, HEADER_BYTES);
  const header = decodeHeader(headerBytes);
  const body = message.subarray(HEADER_BYTES);
  const aad = concatBytes(state.ad, headerBytes);
  const next = structuredClone(state);

  const id = skippedId(header.dh, header.n);
  const skippedKey = next.skipped.get(id);
  if (skippedKey !== undefined) {
    const plaintext = await open(skippedKey, aad, body);
    next.skipped.delete(id);
    return { state: next, plaintext };
  }

  if (next.dhr === null || !equalBytes(header.dh, next.dhr)) {
    await skipMessageKeys(next, header.pn);
    // DH ratchet step.
    next.pn = next.ns;
    next.ns = 0;
    next.nr = 0;
    next.dhr = header.dh;
    [next.rk, next.ckr] = await kdfRk(
      next.rk,
      await dh(next.dhs.privateSeed, header.dh),
    );
    next.dhs = await generate();
    [next.rk, next.cks] = await kdfRk(
      next.rk,
      await dh(next.dhs.privateSeed, header.dh),
    );
  } else if (next.ckr === null) {
    // Alice before Bob's first message: his first ratchet key is public
    // (his signed prekey), and nothing was ever sent under it.
    throw new RatchetError(
      "The message claims a chain that does not exist yet",
    );
  } else if (header.n < next.nr) {
    throw new RatchetError(
      "The message was already read or its key deleted (a replay?)",
    );
  }
  await skipMessageKeys(next, header.n);
  const [ck, mk] = await kdfCk(next.ckr!);
  next.ckr = ck;
  next.nr = header.n + 1;
  const plaintext = await open(mk, aad, body);
  return { state: next, plaintext };
}

/** The 40-byte header. */
export function encodeHeader(header: RatchetHeader): Uint8Array<ArrayBuffer> {
  return concatBytes(header.dh, u32be(header.pn), u32be(header.n));
}

/** A header from its 40 bytes. */
export function decodeHeader(bytes: Uint8Array): RatchetHeader {
  if (bytes.length !== HEADER_BYTES) {
    throw new RatchetError(`A header is ${HEADER_BYTES} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return {
    dh: arrayBufferBacked(bytes.slice(0, X25519_BYTES)),
    pn: view.getUint32(X25519_BYTES),
    n: view.getUint32(X25519_BYTES + 4),
  };
}

/**
 * The skipped-key id of the position a ratchet message's header claims
 * (not authenticated: only for telling a message that came but did not
 * open from one that never came).
 */
export function claimedSkippedId(message: Uint8Array): string {
  const header = decodeHeader(message.subarray(0, HEADER_BYTES));
  return skippedId(header.dh, header.n);
}

async function skipMessageKeys(
  state: RatchetState,
  until: number,
): Promise<void> {
  if (state.ckr === null || state.dhr === null) return;
  if (until - state.nr > MAX_SKIP) {
    throw new RatchetError(
      `The message is more than ${MAX_SKIP} messages ahead`,
    );
  }
  while (state.nr < until) {
    const [ck, mk] = await kdfCk(state.ckr);
    state.ckr = ck;
    state.skipped.set(skippedId(state.dhr, state.nr), mk);
    state.nr++;
    // Maps iterate in insertion order: the first key is the oldest.
    while (state.skipped.size > MAX_SKIPPED_KEYS) {
      state.skipped.delete(state.skipped.keys().next().value!);
    }
  }
}

async function dh(
  privateSeed: Uint8Array,
  peer: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return await x25519(privateSeed, peer);
  } catch (error) {
    throw new RatchetError("The message's ratchet key is unusable", {
      cause: error,
    });
  }
}

/**
 * The id a skipped message key is kept under: the sending chain's ratchet
 * key and the message's number on it.
 */
export function skippedId(dhPublic: Uint8Array, n: number): string {
  return `${toHex(dhPublic)}:${n}`;
}

async function kdfRk(
  rk: Uint8Array,
  dhOut: Uint8Array,
): Promise<[Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>]> {
  const okm = await hkdf(dhOut, rk, utf8Encode(RATCHET_INFO), 64);
  return [okm.slice(0, 32), okm.slice(32)];
}

/** [next chain key, message key]. */
async function kdfCk(
  ck: Uint8Array,
): Promise<[Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>]> {
  return [
    await hmacSha256(ck, Uint8Array.of(0x02)),
    await hmacSha256(ck, Uint8Array.of(0x01)),
  ];
}

async function messageCipher(
  mk: Uint8Array,
): Promise<{ key: CryptoKey; iv: Uint8Array<ArrayBuffer> }> {
  const okm = await hkdf(mk, new Uint8Array(32), utf8Encode(MESSAGE_INFO), 44);
  const key = await crypto.subtle.importKey(
    "raw",
    okm.slice(0, 32),
    "AES-GCM",
    false,
    ["encrypt", "decrypt"],
  );
  return { key, iv: okm.slice(32) };
}

async function seal(
  mk: Uint8Array,
  aad: Uint8Array<ArrayBuffer>,
  plaintext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const { key, iv } = await messageCipher(mk);
  return new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad },
      key,
      arrayBufferBacked(plaintext),
    ),
  );
}

async function open(
  mk: Uint8Array,
  aad: Uint8Array<ArrayBuffer>,
  body: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const { key, iv } = await messageCipher(mk);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: aad },
        key,
        arrayBufferBacked(body),
      ),
    );
  } catch (error) {
    throw new RatchetError(
      "The message does not authenticate (altered, or not for this conversation)",
      { cause: error },
    );
  }
}
