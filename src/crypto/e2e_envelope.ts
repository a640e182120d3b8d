// This module is browser compatible.

/**
 * The end-to-end envelope of a 1:1 message (issue 17 item 2;
 * docs/PROTOCOL.md 11.5): a Double Ratchet message, preceded in the
 * initiator's messages by her X3DH data until the first reply shows the
 * responder has it (as Signal does: any of them may arrive first).
 *
 *     envelope = u8 version (1) || u8 kind || [init] || ratchet message
 *     kind 1 (init):    init = IK (32) || IK_dh (32) || IK_dh signature (64)
 *                           || EK (32) || u32be SPK id || u8 has OPK (0 or 1)
 *                           || u32be OPK id (0 when none)        (169 bytes)
 *     kind 2 (message): no init
 *
 * Pure: sessions are values; the caller stores them. As in X3DH itself, an
 * init that used no one-time key could be replayed to start a second session
 * once the first is gone: the caller remembers the EKs of the inits it opened
 * (e2e_sessions.ts), one-time keys and the session's own EK check do the rest.
 */

import { concatBytes, equalBytes, u32be } from "./bytes.ts";
import type { PrekeyBundle, PrekeySecrets } from "./prekeys.ts";
import {
  HEADER_BYTES,
  ratchetDecrypt,
  ratchetEncrypt,
  RatchetError,
  ratchetInitAlice,
  ratchetInitBob,
  type RatchetState,
  TAG_BYTES,
} from "./ratchet.ts";
import {
  type X3dhInit,
  x3dhInitiate,
  type X3dhOwnKeys,
  x3dhRespond,
} from "./x3dh.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

export const ENVELOPE_VERSION = 1;
/** Envelope kinds. On the wire: stable. */
export const EnvelopeKind = { init: 1, message: 2 } as const;
/** Length of the init part. */
export const INIT_BYTES = 32 + 32 + 64 + 32 + 4 + 1 + 4;

// ---- End of protocol constants. ----

/** A decoded envelope. */
export interface Envelope {
  init: X3dhInit | null;
  /** The Double Ratchet message. */
  message: Uint8Array<ArrayBuffer>;
}

/** One side of a 1:1 conversation. */
export interface E2eSession {
  ratchet: RatchetState;
  /** Sent with every message until the peer has answered once. */
  pendingInit: X3dhInit | null;
  /**
   * The initiator's ephemeral key (EK) of the agreement this session came
   * from: a replay of that init must not start it again.
   */
  ephemeral: Uint8Array<ArrayBuffer>;
}

/** The envelope's bytes. */
export function encodeEnvelope(envelope: Envelope): Uint8Array<ArrayBuffer> {
  const { init } = envelope;
  if (init === null) {
    return concatBytes(
      Uint8Array.of(ENVELOPE_VERSION, EnvelopeKind.message),
      envelope.message,
    );
  }
  return concatBytes(
    Uint8Array.of(ENVELOPE_VERSION, EnvelopeKind.init),
    init.identity,
    init.dh.key,
    init.dh.sig,
    init.ephemeral,
    u32be(init.signedId),
    Uint8Array.of(init.oneTimeId === null ? 0 : 1),
    u32be(init.oneTimeId ?? 0),
    envelope.message,
  );
}

/**
 * An envelope from its bytes.
 *
 * @throws {RatchetError} if the bytes are not an envelope
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length < 2 || bytes[0] !== ENVELOPE_VERSION) {
    throw new RatchetError("Not an end-to-end envelope of version 1");
  }
  const kind = bytes[1];
  const minimum = HEADER_BYTES + TAG_BYTES;
  if (kind === EnvelopeKind.message) {
    if (bytes.length < 2 + minimum) throw new RatchetError("Short envelope");
    return { init: null, message: bytes.slice(2) };
  }
  if (kind !== EnvelopeKind.init) {
    throw new RatchetError(`Unknown envelope kind ${kind}`);
  }
  if (bytes.length < 2 + INIT_BYTES + minimum) {
    throw new RatchetError("Short envelope");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 2;
  const take = (n: number) => bytes.slice(at, at += n);
  const identity = take(32);
  const dhKey = take(32);
  const dhSig = take(64);
  const ephemeral = take(32);
  const signedId = view.getUint32(at);
  at += 4;
  const hasOneTime = bytes[at++];
  const oneTimeId = view.getUint32(at);
  at += 4;
  if (hasOneTime !== 0 && hasOneTime !== 1) {
    throw new RatchetError("Bad one-time key flag");
  }
  if (hasOneTime === 0 && oneTimeId !== 0) {
    throw new RatchetError("A one-time key id without a one-time key");
  }
  return {
    init: {
      identity,
      dh: { id: 0, key: dhKey, sig: dhSig },
      ephemeral,
      signedId,
      oneTimeId: hasOneTime === 1 ? oneTimeId : null,
    },
    message: bytes.slice(at),
  };
}

/** The initiator's new session with the owner of a fetched bundle. */
export async function initiateSession(
  own: X3dhOwnKeys,
  bundle: PrekeyBundle,
): Promise<E2eSession> {
  const agreed = await x3dhInitiate(own, bundle);
  return {
    ratchet: await ratchetInitAlice(
      agreed.sharedKey,
      agreed.associatedData,
      agreed.theirRatchetKey,
    ),
    pendingInit: agreed.init,
    ephemeral: agreed.init.ephemeral,
  };
}

/** Encrypts `plaintext` in `session`; returns the envelope and next session. */
export async function sealEnvelope(
  session: E2eSession,
  plaintext: Uint8Array,
): Promise<{ session: E2eSession; envelope: Uint8Array<ArrayBuffer> }> {
  const out = await ratchetEncrypt(session.ratchet, plaintext);
  return {
    session: { ...session, ratchet: out.state },
    envelope: encodeEnvelope({
      init: session.pendingInit,
      message: out.message,
    }),
  };
}

/**
 * Decrypts an envelope from the peer whose identity key is `peerIdentity`.
 * `session` is ours with them, if any; an init envelope with no session (or
 * one from a new agreement) starts one from our `secrets`, whose one-time key
 * is then used up.
 *
 * @throws {RatchetError} if the envelope does not decrypt
 * @throws {PrekeyError} if the init is not the peer's, or its prekeys are not
 *   (or no longer) ours
 */
export async function openEnvelope(
  own: { identity: Uint8Array<ArrayBuffer>; secrets: PrekeySecrets },
  peerIdentity: Uint8Array,
  session: E2eSession | null,
  bytes: Uint8Array,
): Promise<{ session: E2eSession; plaintext: Uint8Array<ArrayBuffer> }> {
  const envelope = decodeEnvelope(bytes);
  if (
    envelope.init !== null && !equalBytes(envelope.init.identity, peerIdentity)
  ) {
    throw new RatchetError("The envelope names another identity key");
  }
  if (session !== null) {
    try {
      const out = await ratchetDecrypt(session.ratchet, envelope.message);
      // Any message from the peer shows it has our keys: no more init.
      return {
        session: { ...session, ratchet: out.state, pendingInit: null },
        plaintext: out.plaintext,
      };
    } catch (error) {
      // A new agreement from the peer (it lost its session) is tried below;
      // the init of this very session is a replay.
      if (
        envelope.init === null ||
        equalBytes(envelope.init.ephemeral, session.ephemeral)
      ) {
        throw error;
      }
    }
  }
  if (envelope.init === null) {
    throw new RatchetError("No session with this sender, and no init");
  }
  // On a copy: the one-time key is used up only once the message decrypts,
  // so a forged message under a genuine init cannot burn it.
  const scratch = { ...own.secrets, oneTime: new Map(own.secrets.oneTime) };
  const agreed = await x3dhRespond(own.identity, scratch, envelope.init);
  const out = await ratchetDecrypt(
    ratchetInitBob(
      agreed.sharedKey,
      agreed.associatedData,
      own.secrets.signed.pair,
    ),
    envelope.message,
  );
  if (envelope.init.oneTimeId !== null) {
    own.secrets.oneTime.delete(envelope.init.oneTimeId);
  }
  return {
    session: {
      ratchet: out.state,
      pendingInit: null,
      ephemeral: envelope.init.ephemeral,
    },
    plaintext: out.plaintext,
  };
}
