// This module is browser compatible.

/**
 * The sender's signature on the end of a group file (docs/PROTOCOL.md 11.10,
 * "Group files: the sender signs the end"). A group file has one file key
 * for every member, so a member knows enough to seal chunks and a keyed
 * SHA-256 of a file of its own; with the host's help it could pass that file
 * off as the sender's. The sender therefore makes an Ed25519 key pair for
 * each group offer, sends its public half inside the end-to-end file secret
 * (which only the sender can write for each member), and signs `file_end`'s
 * keyed SHA-256 with the private half:
 *
 *     signature = Ed25519(file signing key, "chat/1 file end" || keyed SHA-256 (32 bytes))
 *
 * The keyed digest (not the plain one) is what is signed: the server sees the
 * signature and could otherwise test a guess of the file's contents with it.
 */

import {
  arrayBufferBacked,
  concatBytes,
  fromBase64,
  toBase64,
  utf8Encode,
} from "./bytes.ts";
import { identityKeyProblem } from "./identity.ts";

/** What a file-end signature covers, before the keyed SHA-256. */
export const FILE_END_LABEL = "chat/1 file end";

/** A raw Ed25519 public key; a signature is 64 bytes. */
export const FILE_VERIFY_KEY_BYTES = 32;
export const FILE_SIGNATURE_BYTES = 64;

const ED25519 = { name: "Ed25519" } as const;

/** What is signed for a keyed SHA-256 of 64 lower-case hex digits. */
function signedBytes(sha256Hex: string): Uint8Array<ArrayBuffer> {
  if (!/^[0-9a-f]{64}$/.test(sha256Hex)) {
    throw new TypeError("A keyed SHA-256 is 64 lower-case hex digits");
  }
  return concatBytes(
    utf8Encode(FILE_END_LABEL),
    Uint8Array.fromHex(sha256Hex),
  );
}

/** One offer's signing key: its public half goes in the file secret. */
export interface FileSigner {
  /** The raw Ed25519 public key (32 bytes). */
  verifyKey: Uint8Array<ArrayBuffer>;
  /** The base64 signature (88 characters) of `file_end`'s keyed SHA-256. */
  sign(sha256Hex: string): Promise<string>;
}

/** A fresh signing key for one group offer; its private half never leaves. */
export async function newFileSigner(): Promise<FileSigner> {
  const pair = await crypto.subtle.generateKey(ED25519, false, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const verifyKey = new Uint8Array(
    await crypto.subtle.exportKey("raw", pair.publicKey),
  );
  return {
    verifyKey,
    async sign(sha256Hex) {
      return toBase64(
        new Uint8Array(
          await crypto.subtle.sign(
            ED25519,
            pair.privateKey,
            signedBytes(sha256Hex),
          ),
        ),
      );
    },
  };
}

/**
 * Whether `signature` (base64, from `file_end`) is `verifyKey`'s over the
 * keyed SHA-256 `sha256Hex`. Anything malformed is simply not a signature.
 */
export async function verifyFileEnd(
  verifyKey: Uint8Array,
  sha256Hex: string,
  signature: string | undefined,
): Promise<boolean> {
  if (signature === undefined || !/^[0-9a-f]{64}$/.test(sha256Hex)) {
    return false;
  }
  // A key of small order verifies signatures anyone can make.
  if (identityKeyProblem(verifyKey) !== null) return false;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fromBase64(signature);
  } catch {
    return false;
  }
  if (bytes.length !== FILE_SIGNATURE_BYTES) return false;
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      arrayBufferBacked(verifyKey),
      ED25519,
      false,
      ["verify"],
    );
    return await crypto.subtle.verify(
      ED25519,
      key,
      bytes,
      signedBytes(sha256Hex),
    );
  } catch {
    // Not a point on the curve.
    return false;
  }
}
