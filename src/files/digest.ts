/**
 * Streaming SHA-256 for received files. WebCrypto only digests a whole buffer
 * at once, and a file may be larger than memory, so this uses `node:crypto`.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** An incremental SHA-256. */
export interface Sha256 {
  /** Adds bytes; throws once the digest has been taken. */
  update(bytes: Uint8Array): void;
  /** The digest of everything added, in lower-case hex; may be called again. */
  digestHex(): string;
  /** The digest of everything added so far, leaving the hash open for more. */
  peekHex(): string;
}

/**
 * Starts an incremental SHA-256.
 *
 * @example
 * ```ts
 * const hash = createSha256();
 * hash.update(new TextEncoder().encode("abc"));
 * hash.digestHex(); // "ba7816bf..."
 * ```
 */
export function createSha256(): Sha256 {
  const hash = createHash("sha256");
  let hex: string | undefined;
  return {
    update(bytes) {
      if (hex !== undefined) {
        throw new TypeError("Cannot update a SHA-256 after taking its digest");
      }
      hash.update(bytes);
    },
    peekHex() {
      return hex ?? hash.copy().digest("hex");
    },
    digestHex() {
      // node:crypto refuses a second digest(); remember the first.
      hex ??= hash.digest("hex");
      return hex;
    },
  };
}
