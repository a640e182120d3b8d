// This module is browser compatible.

/**
 * Sender keys for group messages end to end (issue 17 item 3; docs/PROTOCOL.md
 * 11.11), as Signal's Sender Keys (and Matrix's Megolm) do it: each member
 * has a sending chain per group, a chain key ratcheted forward with HMAC for
 * each message, and an Ed25519 signing key of its own; the chain's current
 * state goes to every other member over the 1:1 channels (11.7), and each
 * message is AES-256-GCM under a key derived from the chain, signed with the
 * chain's signing key:
 *
 *     KDF_CK(ck)  = message key HMAC-SHA-256(ck, 0x01),
 *                   next chain key HMAC-SHA-256(ck, 0x02)
 *     key, nonce  = HKDF(IKM = message key, salt = 0x00 * 32,
 *                        info = "chat/1 e2e group message", 44 bytes)
 *     header      = u8 version (1) || chain id (16) || u32be iteration
 *     ciphertext  = AES-256-GCM(key, nonce, plaintext,
 *                               additional data = "chat/1 e2e group" || header)
 *     signature   = Ed25519(signing key, "chat/1 e2e group" || header || ciphertext)
 *     message     = header || ciphertext || signature (64)
 *
 * A member who gets a chain at iteration n can derive the keys of n and
 * later, never earlier ones (a new member cannot read what came before); a
 * member who left is sent no new chain (a former member cannot read what
 * follows). The signature stops members, who all hold the chain key, from
 * writing as each other; the server has no chain key at all.
 *
 * States are plain bytes and numbers and every operation returns a new one:
 * a message that fails leaves the old state untouched.
 */

import {
  arrayBufferBacked,
  concatBytes,
  equalBytes,
  fromBase64,
  randomBytes,
  toHex,
  u32be,
  utf8Encode,
} from "./bytes.ts";
import { hkdf, hmacSha256 } from "./x25519.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

export const SENDER_KEY_VERSION = 1;

/** HKDF info of a group message's AES key and nonce, used as UTF-8. */
export const GROUP_MESSAGE_INFO = "chat/1 e2e group message";

/** Prefix of a group message's additional data and signed bytes, UTF-8. */
export const GROUP_MESSAGE_LABEL = "chat/1 e2e group";

export const CHAIN_ID_BYTES = 16;

/** Header: version (1), chain id (16), iteration (4). */
export const GROUP_HEADER_BYTES = 1 + CHAIN_ID_BYTES + 4;

export const SIGNATURE_BYTES = 64;

/** A chain's state as sent to a member: version, id, iteration, key, signing key. */
export const SENDER_KEY_BYTES = 1 + CHAIN_ID_BYTES + 4 + 32 + 32;

/** The most message keys skipped in one chain at once. */
export const MAX_GROUP_SKIP = 1000;

/** The most skipped message keys kept per chain. */
export const MAX_GROUP_SKIPPED_KEYS = 2000;

// ---- End of protocol constants. ----

const TAG_BYTES = 16;
const ED25519 = { name: "Ed25519" } as const;
/** PKCS#8 DER of an Ed25519 private key, before its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
);

/** A group message that cannot be opened. */
export class SenderKeyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SenderKeyError";
  }
}

/** A chain as every member holds it. */
export interface SenderChain {
  chainId: Uint8Array;
  /** The iteration of the next message key. */
  iteration: number;
  chainKey: Uint8Array;
  /** The chain's Ed25519 public key, raw (32 bytes). */
  signingPublic: Uint8Array;
}

/** Our own chain: also the signing key's private seed. */
export interface OwnChain extends SenderChain {
  signingSeed: Uint8Array;
}

/** A chain received from a member: also the keys of skipped messages. */
export interface ReceivedChain extends SenderChain {
  /** Message keys of iterations not yet read, by iteration. */
  skipped: Map<number, Uint8Array>;
}

/** A new chain of our own: random id, chain key and signing key. */
export async function newSenderChain(
  random: (n: number) => Uint8Array = randomBytes,
): Promise<OwnChain> {
  const signingSeed = random(32);
  return {
    chainId: random(CHAIN_ID_BYTES),
    iteration: 0,
    chainKey: random(32),
    signingSeed,
    signingPublic: await signingPublicOf(signingSeed),
  };
}

/** The chain's state to send a member (11.11): it can read from here on. */
export function encodeSenderKey(chain: SenderChain): Uint8Array<ArrayBuffer> {
  return concatBytes(
    Uint8Array.of(SENDER_KEY_VERSION),
    chain.chainId,
    u32be(chain.iteration),
    chain.chainKey,
    chain.signingPublic,
  );
}

/**
 * A chain as a member sent it.
 *
 * @throws {SenderKeyError} if it is malformed
 */
export function decodeSenderKey(bytes: Uint8Array): ReceivedChain {
  if (bytes.length !== SENDER_KEY_BYTES || bytes[0] !== SENDER_KEY_VERSION) {
    throw new SenderKeyError("A sender key is malformed");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = 1 + CHAIN_ID_BYTES;
  return {
    chainId: bytes.slice(1, at),
    iteration: view.getUint32(at),
    chainKey: bytes.slice(at + 4, at + 36),
    signingPublic: bytes.slice(at + 36, at + 68),
    skipped: new Map(),
  };
}

/** The id of the chain a group message was sealed on, as hex, or null. */
export function chainIdOf(message: Uint8Array): string | null {
  if (
    message.length < GROUP_HEADER_BYTES + TAG_BYTES + SIGNATURE_BYTES ||
    message[0] !== SENDER_KEY_VERSION
  ) {
    return null;
  }
  return toHex(message.subarray(1, 1 + CHAIN_ID_BYTES));
}

/**
 * The iteration a group message's header claims (not authenticated), or
 * null when it is malformed.
 */
export function iterationOf(message: Uint8Array): number | null {
  if (chainIdOf(message) === null) return null;
  return new DataView(
    message.buffer,
    message.byteOffset + 1 + CHAIN_ID_BYTES,
    4,
  ).getUint32(0);
}

/** Seals `plaintext` on our chain; returns the message and the chain after it. */
export async function sealGroupMessage(
  chain: OwnChain,
  plaintext: Uint8Array,
): Promise<{ chain: OwnChain; message: Uint8Array<ArrayBuffer> }> {
  if (chain.iteration >= 0xffffffff) {
    throw new SenderKeyError("The chain is used up: make a new one");
  }
  const [next, messageKey] = await step(chain.chainKey);
  const header = headerOf(chain.chainId, chain.iteration);
  const ciphertext = await aead(messageKey, header, plaintext, "encrypt");
  const label = utf8Encode(GROUP_MESSAGE_LABEL);
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    concatBytes(PKCS8_ED25519_PREFIX, chain.signingSeed),
    ED25519,
    false,
    ["sign"],
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign(
      ED25519,
      privateKey,
      concatBytes(label, header, ciphertext),
    ),
  );
  return {
    chain: { ...chain, iteration: chain.iteration + 1, chainKey: next },
    message: concatBytes(header, ciphertext, signature),
  };
}

/**
 * Opens a group message sealed on `chain`; returns the plaintext and the
 * chain after it.
 *
 * @throws {SenderKeyError} if the message is malformed, of another chain,
 * not signed by the chain's key, altered, already read (a replay), from
 * before the chain was received, or too far ahead
 */
export async function openGroupMessage(
  chain: ReceivedChain,
  message: Uint8Array,
): Promise<{ chain: ReceivedChain; plaintext: Uint8Array<ArrayBuffer> }> {
  if (
    message.length < GROUP_HEADER_BYTES + TAG_BYTES + SIGNATURE_BYTES ||
    message[0] !== SENDER_KEY_VERSION
  ) {
    throw new SenderKeyError("The group message is malformed");
  }
  const header = message.subarray(0, GROUP_HEADER_BYTES);
  if (!equalBytes(header.subarray(1, 1 + CHAIN_ID_BYTES), chain.chainId)) {
    throw new SenderKeyError("The group message is of another chain");
  }
  const iteration = new DataView(
    header.buffer,
    header.byteOffset + 1 + CHAIN_ID_BYTES,
    4,
  ).getUint32(0);
  const ciphertext = message.subarray(
    GROUP_HEADER_BYTES,
    message.length - SIGNATURE_BYTES,
  );
  const signature = message.subarray(message.length - SIGNATURE_BYTES);
  // The signature first: a member holding the chain key cannot write as
  // the chain's owner.
  const publicKey = await crypto.subtle.importKey(
    "raw",
    arrayBufferBacked(chain.signingPublic),
    ED25519,
    false,
    ["verify"],
  );
  const signed = await crypto.subtle.verify(
    ED25519,
    publicKey,
    arrayBufferBacked(signature),
    concatBytes(utf8Encode(GROUP_MESSAGE_LABEL), header, ciphertext),
  );
  if (!signed) {
    throw new SenderKeyError(
      "The group message is not signed by its sender's key",
    );
  }
  const next: ReceivedChain = { ...chain, skipped: new Map(chain.skipped) };
  let messageKey: Uint8Array;
  if (iteration < chain.iteration) {
    const skipped = next.skipped.get(iteration);
    if (skipped === undefined) {
      throw new SenderKeyError(
        "The group message was already read, or sent before its key was given to you",
      );
    }
    next.skipped.delete(iteration);
    messageKey = skipped;
  } else {
    if (iteration - chain.iteration > MAX_GROUP_SKIP) {
      throw new SenderKeyError("The group message is too far ahead");
    }
    let chainKey = chain.chainKey;
    for (let i = chain.iteration; i < iteration; i++) {
      const [after, key] = await step(chainKey);
      next.skipped.set(i, key);
      chainKey = after;
    }
    const [after, key] = await step(chainKey);
    messageKey = key;
    next.chainKey = after;
    next.iteration = iteration + 1;
    // The oldest skipped keys go first (Map keeps insertion order).
    for (const old of next.skipped.keys()) {
      if (next.skipped.size <= MAX_GROUP_SKIPPED_KEYS) break;
      next.skipped.delete(old);
    }
  }
  let plaintext: Uint8Array<ArrayBuffer>;
  try {
    plaintext = await aead(messageKey, header, ciphertext, "decrypt");
  } catch (error) {
    throw new SenderKeyError("The group message failed authentication", {
      cause: error,
    });
  }
  return { chain: next, plaintext };
}

/** The Ed25519 public key (raw) of a private seed. */
export async function signingPublicOf(
  seed: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "pkcs8",
    concatBytes(PKCS8_ED25519_PREFIX, seed),
    ED25519,
    true,
    ["sign"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const x = (jwk.x ?? "").replaceAll("-", "+").replaceAll("_", "/");
  return fromBase64(x + "=".repeat((4 - x.length % 4) % 4));
}

/** KDF_CK: the next chain key and this step's message key. */
async function step(
  chainKey: Uint8Array,
): Promise<[Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>]> {
  const [messageKey, next] = await Promise.all([
    hmacSha256(chainKey, Uint8Array.of(1)),
    hmacSha256(chainKey, Uint8Array.of(2)),
  ]);
  return [next, messageKey];
}

function headerOf(
  chainId: Uint8Array,
  iteration: number,
): Uint8Array<ArrayBuffer> {
  return concatBytes(
    Uint8Array.of(SENDER_KEY_VERSION),
    chainId,
    u32be(iteration),
  );
}

async function aead(
  messageKey: Uint8Array,
  header: Uint8Array,
  data: Uint8Array,
  direction: "encrypt" | "decrypt",
): Promise<Uint8Array<ArrayBuffer>> {
  const material = await hkdf(
    messageKey,
    new Uint8Array(32),
    utf8Encode(GROUP_MESSAGE_INFO),
    44,
  );
  const key = await crypto.subtle.importKey(
    "raw",
    material.subarray(0, 32),
    "AES-GCM",
    false,
    [direction],
  );
  const params = {
    name: "AES-GCM",
    iv: material.subarray(32, 44),
    additionalData: concatBytes(utf8Encode(GROUP_MESSAGE_LABEL), header),
  };
  return new Uint8Array(
    direction === "encrypt"
      ? await crypto.subtle.encrypt(params, key, arrayBufferBacked(data))
      : await crypto.subtle.decrypt(params, key, arrayBufferBacked(data)),
  );
}
