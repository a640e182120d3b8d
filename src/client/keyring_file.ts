/**
 * The end-to-end keyring on disk (issue 17 item 1): the private X25519 keys
 * behind the prekeys this user published, so that a first message sent while
 * the client was stopped can still be answered after a restart.
 *
 * The file is `<config folder>/e2e_keys_<identity fingerprint>_<name>`
 * (e2e_paths.ts: each name signed in has its own prekeys), mode 0600 in a
 * 0700 folder, written atomically; its text is the keyring as keyring_codec.ts
 * writes it. A keyring for another identity key than the one
 * in use is not used (a new one is made). Given a storage key
 * (storage_key.ts), the JSON is sealed at rest (crypto/at_rest.ts, label
 * "e2e_keys"); a plain file written before is read and sealed at the next
 * save. The reading and sealing are e2e_store.ts's, shared with the web page;
 * this module is the file.
 */

import type { Identity } from "../crypto/identity.ts";
import type { Keyring } from "./e2e_keys.ts";
import { loadKeyringFrom, saveKeyringTo } from "./e2e_store.ts";
import { fileSlot } from "./file_slot.ts";

/** A keyring holds a few hundred keys; anything larger is the wrong file. */
const MAX_BYTES = 1024 * 1024;

/**
 * The keyring in `path` for `identity`; a new one (saved) if there is none or
 * it is another identity's.
 *
 * @throws {Error} with a message for the user if the file is unreadable or
 *   corrupt, or a new one cannot be saved
 */
export function loadOrCreateKeyring(
  path: string,
  identity: Identity,
  storageKey: Uint8Array | null = null,
): Promise<Keyring> {
  return loadKeyringFrom(slot(path), identity, storageKey);
}

/**
 * Writes the keyring to `path` (0600, atomically), sealed under
 * `storageKey` when there is one.
 */
export function saveKeyring(
  path: string,
  keyring: Keyring,
  storageKey: Uint8Array | null = null,
): Promise<void> {
  return saveKeyringTo(slot(path), keyring, storageKey);
}

function slot(path: string) {
  return fileSlot(path, "end-to-end keys", MAX_BYTES);
}
