/**
 * The end-to-end state (e2e_state.ts) on disk: `<config
 * folder>/e2e_state_<identity fingerprint>_<name>` (e2e_paths.ts), sealed at
 * rest under the storage key (crypto/at_rest.ts, label "e2e_state"), mode 0600,
 * written atomically and synced to the disk after every change, before what
 * changed it is shown or sent. The sealing is e2e_store.ts's, shared with the
 * web page; this module is the file.
 */

import type { E2eState } from "./e2e_state.ts";
import { loadE2eStateFrom, saveE2eStateTo } from "./e2e_store.ts";
import { fileSlot } from "./file_slot.ts";

/**
 * The largest state file read, above the most the state holds by
 * construction: every part a peer can grow is capped (e2e_state.ts,
 * group_sessions.ts, e2e_sessions.ts): sessions with at most 1000 peers
 * (MAX_PEER_SESSIONS, about 3.7 MB), 10,000 skipped keys in all, 20,000
 * first-message EKs, 10,000 group chains received (MAX_RECEIVED_CHAINS_IN_ALL,
 * about 3.2 MB) with 10,000 skipped keys, the archives (4,000,000 and
 * 2,000,000 characters, up to six bytes each in JSON, and 5000 messages each),
 * and 8 MiB of messages held for /trust. All at once that is about 60 MB of
 * JSON, 80 MB sealed (base64: 4/3), measured by tests/client/e2e_state_test.ts;
 * 64 MiB, the limit before, was below it.
 */
export const MAX_E2E_STATE_BYTES = 96 * 1024 * 1024;

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
