/**
 * Opens one user's end-to-end files in the config folder (issue 17): the
 * keyring published at sign-in, the sessions, archive and verifications,
 * sealed at rest under the folder's storage key, and the identity keys seen
 * per name. They are per identity key and name (e2e_paths.ts), so they are
 * opened once the server has welcomed a name, under that name's lock
 * (e2e_lock.ts), after taking over the files of versions without names
 * (e2e_takeover.ts).
 *
 * @module
 */

import type { Identity } from "../crypto/identity.ts";
import { e2eElsewhereWarning, lockE2eFiles } from "./e2e_lock.ts";
import { e2eFilePaths } from "./e2e_paths.ts";
import { loadE2eState, saveE2eState } from "./e2e_state_file.ts";
import type { E2eState } from "./e2e_state.ts";
import { savesInOrder } from "./e2e_store.ts";
import { takeOverLegacyE2eFiles } from "./e2e_takeover.ts";
import { loadOrCreateKeyring, saveKeyring } from "./keyring_file.ts";
import { loadKnownIdentities } from "./known_identities_file.ts";
import type { E2eOpening } from "./session_e2e.ts";
import { loadOrCreateStorageKey } from "./storage_key.ts";

/** Where the files are: the config folder, and the files all names share. */
export interface E2eFolder {
  /** The config folder, where each name's keyring and sessions are. */
  dir: string;
  /** The storage key the keyring and sessions are sealed under (storage_key.ts). */
  storageKey: string;
  /** The identity keys seen per name (known_identities_file.ts). */
  knownIdentities: string;
}

/** The end-to-end files exist but cannot be used: chat connect stops. */
export class E2eKeysUnreadable extends Error {}

/**
 * The end-to-end keys of `identity` signed in as `name`, from `folder`; or
 * none, with a warning, when another process signed in as that name has
 * them. The lock is held until the process ends (or
 * `release`, for tests). A process the server replaced by this one (the
 * same key signing in as the same name) is waited for `waitMs` to end and
 * let the lock go.
 *
 * @throws {E2eKeysUnreadable} when a file cannot be used (never on without
 *   them: private messages would go in the clear)
 */
export async function openE2eFiles(
  folder: E2eFolder,
  identity: Identity,
  name: string,
  waitMs = 0,
): Promise<E2eOpening & { release: () => void }> {
  const paths = e2eFilePaths(folder.dir, identity.fingerprint, name);
  try {
    const lock = await lockE2eFiles(paths.lock, waitMs);
    if (lock.kind === "elsewhere") {
      return {
        kind: "elsewhere",
        warning: e2eElsewhereWarning(name, lock.pid),
        pid: lock.pid,
        release: () => {},
      };
    }
    try {
      await takeOverLegacyE2eFiles(paths);
      const storageKey = await loadOrCreateStorageKey(folder.storageKey);
      const keyring = await loadOrCreateKeyring(
        paths.keyring,
        identity,
        storageKey,
      );
      // A keyring written before it was sealed at rest is sealed now.
      await saveKeyring(paths.keyring, keyring, storageKey);
      const saveState = savesInOrder((
        { state, warn }: { state: E2eState; warn: (line: string) => void },
      ) => saveE2eState(paths.state, storageKey, state, warn));
      return {
        kind: "keys",
        keys: {
          keyring,
          save: savesInOrder((next) =>
            saveKeyring(paths.keyring, next, storageKey)
          ),
          state: await loadE2eState(paths.state, storageKey),
          saveState: (state, warn) => saveState({ state, warn }),
          identities: await loadKnownIdentities(folder.knownIdentities),
        },
        release: lock.release,
      };
    } catch (error) {
      lock.release();
      throw error;
    }
  } catch (error) {
    // Not a warning and on without them: whoever can make these files
    // unreadable (a peer growing the state past what is read back, a full
    // disk) would make the next private message go in the clear.
    throw new E2eKeysUnreadable(
      `${
        error instanceof Error ? error.message : String(error)
      }. chat connect does not start without your end-to-end keys, since private messages would then go unencrypted`,
    );
  }
}
