/**
 * The end-to-end state (e2e_state.ts) on disk: `<config
 * folder>/e2e_state_<identity fingerprint>_<name>` (e2e_paths.ts), sealed at
 * rest under the storage key (crypto/at_rest.ts, label "e2e_state"), mode 0600,
 * written atomically and synced to the disk after every change, before what
 * changed it is shown or sent. The sealing is e2e_store.ts's, shared with the
 * web page; this module is the file.
 */

import type { E2eState } from "./e2e_state.ts";
import {
  loadE2eStateFrom,
  MAX_E2E_STATE_BYTES,
  saveE2eStateTo,
} from "./e2e_store.ts";
import { fileSlot } from "./file_slot.ts";

/** The largest state file read (e2e_store.ts says why). */
export { MAX_E2E_STATE_BYTES };

/**
 * The state in `path`, or an empty one if there is no file.
 *
 * @throws {Error} with a message for the user if the file cannot be read or
 *   does not open with `storageKey`
 */
export function loadE2eState(
  path: string,
  storageKey: Uint8Array,
  maxBytes = MAX_E2E_STATE_BYTES,
): Promise<E2eState> {
  return loadE2eStateFrom(slot(path, maxBytes), storageKey);
}

/**
 * Seals and writes the state to `path` (0600, atomically). Never a file
 * over `maxBytes`, which the next start would refuse: the caps above make
 * one impossible, and should they fail, the state is made smaller first
 * (e2e_store.ts `saveE2eStateTo`) and `warn` told, or the old file kept.
 *
 * @throws {Error} with a message for the user if it cannot be written or
 *   made to fit
 */
export function saveE2eState(
  path: string,
  storageKey: Uint8Array,
  state: E2eState,
  warn: (line: string) => void,
  maxBytes = MAX_E2E_STATE_BYTES,
): Promise<void> {
  return saveE2eStateTo(slot(path, maxBytes), storageKey, state, {
    maxBytes,
    warn,
  });
}

function slot(path: string, maxBytes: number) {
  // Durable: it is saved before a message key is used, and a state rolled
  // back by a power cut would use that key again (AES-GCM with the same key
  // and nonce for another text).
  return fileSlot(path, "the end-to-end sessions", maxBytes, {
    durable: true,
  });
}
