// This module is browser compatible.

/**
 * Client files encrypted at rest (issue 17 item 4; docs/PROTOCOL.md 11.9):
 * the end-to-end keyring, sessions and archive of private messages, under a
 * 32-byte storage key kept in its own file in the config folder.
 *
 *     text       = "chat-sealed/1 " || base64(nonce (12) || ciphertext || tag (16)) || "\n"
 *     ciphertext = AES-256-GCM(storage key, random nonce, contents,
 *                              additional data = UTF-8("chat/1 at rest " || label))
 *
 * The label names what the file holds (say, "e2e_state"), so one sealed file
 * cannot be passed off as another. This protects copies of the files (a
 * backup, a synced folder) that leave the storage key behind; whoever can
 * read the config folder itself can read the key as well, as with ssh's
 * unencrypted keys.
 */

import {
  concatBytes,
  fromBase64,
  randomBytes,
  toBase64,
  utf8Encode,
} from "./bytes.ts";

// ---- Format constants: changing any of these changes the files. ----

/** The first characters of a sealed file. */
export const SEALED_PREFIX = "chat-sealed/1 ";
/** Bytes of a storage key (AES-256). */
export const STORAGE_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

// ---- End of format constants. ----

/**
 * A storage key: its 32 bytes (the terminal's, read from its file), or an
 * AES-256-GCM `CryptoKey` (the web page's, non-extractable in IndexedDB).
 */
export type StorageKey = Uint8Array | CryptoKey;

/** A sealed file that does not open: damaged, or sealed under another key. */
export class AtRestError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AtRestError";
  }
}

/** Whether `text` looks like a sealed file (not whether it opens). */
export function isSealed(text: string): boolean {
  return text.startsWith(SEALED_PREFIX);
}

/** `contents` sealed under `key` for a file holding `label`. */
export async function sealAtRest(
  key: StorageKey,
  label: string,
  contents: Uint8Array,
): Promise<string> {
  const nonce = randomBytes(NONCE_BYTES);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: aad(label) },
      await importKey(key),
      concatBytes(contents),
    ),
  );
  return SEALED_PREFIX + toBase64(concatBytes(nonce, ciphertext)) + "\n";
}

/**
 * The contents of a sealed file's `text`.
 *
 * @throws {AtRestError} if it is not sealed, damaged, for another label, or
 *   sealed under another key
 */
export async function openAtRest(
  key: StorageKey,
  label: string,
  text: string,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!isSealed(text)) throw new AtRestError("not a sealed file");
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fromBase64(text.slice(SEALED_PREFIX.length).trim());
  } catch (error) {
    throw new AtRestError("damaged (not base64)", { cause: error });
  }
  if (bytes.length < NONCE_BYTES + TAG_BYTES) {
    throw new AtRestError("damaged (too short)");
  }
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: bytes.slice(0, NONCE_BYTES),
          additionalData: aad(label),
        },
        await importKey(key),
        bytes.slice(NONCE_BYTES),
      ),
    );
  } catch (error) {
    throw new AtRestError(
      "it does not open with this config folder's storage key (damaged, or from another folder)",
      { cause: error },
    );
  }
}

function aad(label: string): Uint8Array<ArrayBuffer> {
  return utf8Encode(`chat/1 at rest ${label}`);
}

async function importKey(key: StorageKey): Promise<CryptoKey> {
  if (key instanceof CryptoKey) return key;
  if (key.length !== STORAGE_KEY_BYTES) {
    throw new AtRestError(`A storage key is ${STORAGE_KEY_BYTES} bytes`);
  }
  return await crypto.subtle.importKey(
    "raw",
    concatBytes(key),
    "AES-GCM",
    false,
    ["encrypt", "decrypt"],
  );
}
