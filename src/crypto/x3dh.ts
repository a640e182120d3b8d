// This module is browser compatible.

/**
 * The X3DH key agreement (Signal's specification, revision 1), with the
 * identity DH key of prekeys.ts in the role of the spec's identity key:
 *
 *     DH1 = X25519(IKa_dh, SPKb)      DH2 = X25519(EKa, IKb_dh)
 *     DH3 = X25519(EKa, SPKb)         DH4 = X25519(EKa, OPKb)   (if any)
 *     SK  = HKDF-SHA-256(IKM  = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4],
 *                        salt = 0x00 * 32,
 *                        info = "chat/1 e2e x3dh", 32 bytes)
 *     AD  = IKa || IKa_dh || IKb || IKb_dh      (128 bytes: the raw Ed25519
 *                                                identity keys and X25519
 *                                                identity DH keys)
 *
 * The initiator (Alice) verifies every signature of Bob's bundle first; the
 * responder (Bob) verifies the signature on Alice's identity DH key, which
 * travels in the {@link X3dhInit} header of her first message. SK seeds the
 * Double Ratchet (ratchet.ts) with Bob's signed prekey as his first ratchet
 * key; AD is the ratchet's associated data.
 */

import { concatBytes, utf8Encode } from "./bytes.ts";
import {
  type PrekeyBundle,
  PrekeyError,
  PrekeyKind,
  type PrekeySecrets,
  type SignedPrekey,
  verifyBundle,
  verifyPrekey,
} from "./prekeys.ts";
import {
  generateX25519KeyPair,
  hkdf,
  x25519,
  X25519_BYTES,
  type X25519KeyPair,
} from "./x25519.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/** HKDF info of the X3DH shared secret, used as UTF-8. */
export const X3DH_INFO = "chat/1 e2e x3dh";

/** Length of the shared secret SK. */
export const X3DH_SECRET_BYTES = 32;

// ---- End of protocol constants. ----

/** What the initiator sends in front of her first message. */
export interface X3dhInit {
  /** Alice's raw Ed25519 identity public key. */
  identity: Uint8Array<ArrayBuffer>;
  /** Alice's identity DH key, signed by her identity key. */
  dh: SignedPrekey;
  /** Alice's ephemeral X25519 public key. */
  ephemeral: Uint8Array<ArrayBuffer>;
  /** Id of Bob's signed prekey used. */
  signedId: number;
  /** Id of Bob's one-time prekey used, or null if none was left. */
  oneTimeId: number | null;
}

/** The agreement's outcome on either side. */
export interface X3dhResult {
  /** SK, the ratchet's first root key. */
  sharedKey: Uint8Array<ArrayBuffer>;
  /** AD, the ratchet's associated data. */
  associatedData: Uint8Array<ArrayBuffer>;
}

/** Alice's own keys. */
export interface X3dhOwnKeys {
  identity: Uint8Array<ArrayBuffer>;
  /** Her published identity DH key and its private seed. */
  dh: SignedPrekey;
  dhPair: X25519KeyPair;
}

/**
 * Alice's side: agrees on SK with the owner of a fetched `bundle` (at most
 * one one-time key).
 *
 * @throws {PrekeyError} if a signature of the bundle does not verify
 * @throws {DhError} if a key of the bundle is unusable
 */
export async function x3dhInitiate(
  own: X3dhOwnKeys,
  bundle: PrekeyBundle,
  ephemeral?: X25519KeyPair,
): Promise<
  X3dhResult & { init: X3dhInit; theirRatchetKey: Uint8Array<ArrayBuffer> }
> {
  await verifyBundle(bundle);
  if (bundle.oneTime.length > 1) {
    throw new PrekeyError("A fetched bundle carries at most one one-time key");
  }
  const ek = ephemeral ?? await generateX25519KeyPair();
  const oneTime = bundle.oneTime[0];
  const dhs = [
    await x25519(own.dhPair.privateSeed, bundle.signed.key),
    await x25519(ek.privateSeed, bundle.dh.key),
    await x25519(ek.privateSeed, bundle.signed.key),
  ];
  if (oneTime !== undefined) {
    dhs.push(await x25519(ek.privateSeed, oneTime.key));
  }
  return {
    sharedKey: await deriveSharedKey(dhs),
    associatedData: associatedData(
      own.identity,
      own.dh.key,
      bundle.identity,
      bundle.dh.key,
    ),
    init: {
      identity: own.identity,
      dh: own.dh,
      ephemeral: ek.publicRaw,
      signedId: bundle.signed.id,
      oneTimeId: oneTime?.id ?? null,
    },
    theirRatchetKey: bundle.signed.key,
  };
}

/**
 * Bob's side: agrees on SK from Alice's {@link X3dhInit}. The one-time key
 * used is deleted from `secrets.oneTime`, so the same init cannot be
 * answered twice.
 *
 * @throws {PrekeyError} if Alice's DH key is not signed by her identity, or
 * the prekeys named are not (or no longer) Bob's
 * @throws {DhError} if a key of the init is unusable
 */
export async function x3dhRespond(
  ownIdentity: Uint8Array<ArrayBuffer>,
  secrets: PrekeySecrets,
  init: X3dhInit,
): Promise<X3dhResult> {
  await verifyPrekey(init.identity, PrekeyKind.dh, init.dh, "identity DH key");
  if (init.dh.id !== 0) {
    throw new PrekeyError("The identity DH key must have id 0");
  }
  if (init.signedId !== secrets.signed.id) {
    throw new PrekeyError(
      `The signed prekey ${init.signedId} is not (or no longer) ours`,
    );
  }
  const dhs = [
    await x25519(secrets.signed.pair.privateSeed, init.dh.key),
    await x25519(secrets.dh.privateSeed, init.ephemeral),
    await x25519(secrets.signed.pair.privateSeed, init.ephemeral),
  ];
  if (init.oneTimeId !== null) {
    const oneTime = secrets.oneTime.get(init.oneTimeId);
    if (oneTime === undefined) {
      throw new PrekeyError(
        `The one-time prekey ${init.oneTimeId} is unknown or already used`,
      );
    }
    dhs.push(await x25519(oneTime.privateSeed, init.ephemeral));
  }
  const result = {
    sharedKey: await deriveSharedKey(dhs),
    associatedData: associatedData(
      init.identity,
      init.dh.key,
      ownIdentity,
      secrets.dh.publicRaw,
    ),
  };
  // Only once the agreement succeeded: a forged init must not burn a key.
  if (init.oneTimeId !== null) secrets.oneTime.delete(init.oneTimeId);
  return result;
}

async function deriveSharedKey(
  dhs: Uint8Array[],
): Promise<Uint8Array<ArrayBuffer>> {
  return await hkdf(
    concatBytes(new Uint8Array(X25519_BYTES).fill(0xff), ...dhs),
    new Uint8Array(32),
    utf8Encode(X3DH_INFO),
    X3DH_SECRET_BYTES,
  );
}

function associatedData(
  initiator: Uint8Array,
  initiatorDh: Uint8Array,
  responder: Uint8Array,
  responderDh: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return concatBytes(initiator, initiatorDh, responder, responderDh);
}
