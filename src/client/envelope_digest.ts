// This module is browser compatible.

/**
 * What the archives keep of a sealed message to know it again (the private
 * one, e2e_sessions.ts, and the groups', group_sessions.ts): its SHA-256.
 * The server's id alone is its word: an archived text is shown again only
 * for the same bytes.
 *
 * @module
 */

import { arrayBufferBacked, toBase64 } from "../crypto/bytes.ts";

/** SHA-256 of `envelope`, in base64. */
export async function envelopeDigest(envelope: Uint8Array): Promise<string> {
  return toBase64(
    new Uint8Array(
      await crypto.subtle.digest("SHA-256", arrayBufferBacked(envelope)),
    ),
  );
}
