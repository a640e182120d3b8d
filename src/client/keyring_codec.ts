// This module is browser compatible.

/**
 * The end-to-end keyring (e2e_keys.ts) as text, JSON:
 *
 *     {"version":1,"identity":"SHA256:...","dh":"<seed>",
 *      "signed":{"id":1,"seed":"<seed>"},
 *      "one_time":[{"id":0,"seed":"<seed>"}, ...],"next_one_time":100,
 *      "signed_at":<ms>,"retired":{"id":0,"seed":"<seed>","until":<ms>}}
 *
 * Seeds are the 32-byte X25519 private keys in base64. Signatures are not
 * stored: Ed25519 signatures are deterministic, so they are made again when
 * the text is read. e2e_store.ts seals it at rest; this module does no I/O.
 *
 * @module
 */

import { fromBase64, toBase64 } from "../crypto/bytes.ts";
import type { Identity } from "../crypto/identity.ts";
import { MAX_PREKEY_ID, PrekeyKind, signPrekey } from "../crypto/prekeys.ts";
import { type X25519KeyPair, x25519KeyPairFromSeed } from "../crypto/x25519.ts";
import { type Keyring, MAX_KEPT_ONE_TIME } from "./e2e_keys.ts";

/** The keyring as the file's text. */
export function encodeKeyring(keyring: Keyring): string {
  return JSON.stringify({
    version: 1,
    identity: keyring.identity.fingerprint,
    dh: toBase64(keyring.secrets.dh.privateSeed),
    signed: {
      id: keyring.secrets.signed.id,
      seed: toBase64(keyring.secrets.signed.pair.privateSeed),
    },
    one_time: [...keyring.secrets.oneTime].map(([id, pair]) => ({
      id,
      seed: toBase64(pair.privateSeed),
    })),
    next_one_time: keyring.nextOneTimeId,
    signed_at: keyring.signedAt,
    retired: keyring.retired === null ? null : {
      id: keyring.retired.id,
      seed: toBase64(keyring.retired.pair.privateSeed),
      until: keyring.retired.until,
    },
  }) + "\n";
}

/**
 * The keyring in `text` for `identity`, or null if it belongs to another
 * identity key.
 *
 * @throws {Error} if the text is not a keyring file
 */
export async function decodeKeyring(
  text: string,
  identity: Identity,
): Promise<Keyring | null> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error("not JSON");
  }
  const f = record(value, "the file");
  if (f.version !== 1) throw new Error("unknown version");
  if (f.identity !== identity.fingerprint) return null;
  const dh = await pair(f.dh, "dh");
  const signed = record(f.signed, "signed");
  const signedId = id(signed.id, "signed.id");
  const signedPair = await pair(signed.seed, "signed.seed");
  if (!Array.isArray(f.one_time) || f.one_time.length > MAX_KEPT_ONE_TIME) {
    throw new Error("'one_time' must be a short list");
  }
  const oneTime = new Map<number, X25519KeyPair>();
  for (const entry of f.one_time) {
    const one = record(entry, "one_time");
    oneTime.set(
      id(one.id, "one_time.id"),
      await pair(one.seed, "one_time.seed"),
    );
  }
  return {
    identity,
    bundle: {
      identity: identity.publicRaw,
      dh: await signPrekey(identity, PrekeyKind.dh, 0, dh),
      signed: await signPrekey(
        identity,
        PrekeyKind.signed,
        signedId,
        signedPair,
      ),
      oneTime: [],
    },
    secrets: { dh, signed: { id: signedId, pair: signedPair }, oneTime },
    nextOneTimeId: id(f.next_one_time, "next_one_time"),
    // Absent from files written before rotation: replaced at the next
    // sign-in.
    signedAt: f.signed_at === undefined ? 0 : time(f.signed_at, "signed_at"),
    retired: f.retired === undefined || f.retired === null
      ? null
      : await retired(f.retired),
  };
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${where} must be an object`);
  }
  return value as Record<string, unknown>;
}

function time(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new Error(`'${where}' must be a time`);
  }
  return value;
}

async function retired(
  value: unknown,
): Promise<{ id: number; pair: X25519KeyPair; until: number }> {
  const r = record(value, "retired");
  return {
    id: id(r.id, "retired.id"),
    pair: await pair(r.seed, "retired.seed"),
    until: time(r.until, "retired.until"),
  };
}

function id(value: unknown, where: string): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 0 ||
    value > MAX_PREKEY_ID
  ) {
    throw new Error(`'${where}' must be a key id`);
  }
  return value;
}

async function pair(value: unknown, where: string): Promise<X25519KeyPair> {
  let seed: Uint8Array;
  try {
    seed = fromBase64(typeof value === "string" ? value : "");
  } catch {
    throw new Error(`'${where}' must be base64`);
  }
  if (seed.length !== 32) throw new Error(`'${where}' must be 32 bytes`);
  return await x25519KeyPairFromSeed(seed);
}
