// This module is browser compatible.

/**
 * A file key (crypto/file_cipher.ts) in an offer's readable `key` field
 * (docs/PROTOCOL.md 5.6, "Chunk encryption"). Only for recipients without
 * end-to-end keys, whose file the server can then read: everyone else gets
 * the key end to end and the offer names it by id (file_key_share.ts, 11.10).
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
