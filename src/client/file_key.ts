// This module is browser compatible.

/**
 * How a file's key (crypto/file_cipher.ts) reaches its recipients: the one
 * place that decides it. For now the key travels in the offer, as `key`,
 * which the server reads and passes on (docs/PROTOCOL.md 5.6, "Chunk
 * encryption"); the server could read every file before this, so nothing got
 * weaker. TODO(#17): send it inside the recipients' end-to-end channel
 * instead, and the server only relays ciphertext it cannot open.
 */

import { FILE_KEY_BYTES } from "../crypto/file_cipher.ts";
import type { FileOfferNotice } from "../protocol/messages.ts";

const KEY_HEX = /^[0-9a-f]{64}$/;

/** What the sender's `file_offer` carries for its recipients to get `key`. */
export function fileKeyForOffer(key: Uint8Array): { key: string } {
  let hex = "";
  for (const byte of key) hex += byte.toString(16).padStart(2, "0");
  return { key: hex };
}

/** The file key an offer delivered, or null if it has none that is valid. */
export function fileKeyOfOffer(
  offer: FileOfferNotice,
): Uint8Array<ArrayBuffer> | null {
  const hex = offer.key;
  if (hex === undefined || !KEY_HEX.test(hex)) return null;
  const key = new Uint8Array(FILE_KEY_BYTES);
  for (let i = 0; i < FILE_KEY_BYTES; i++) {
    key[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return key;
}
