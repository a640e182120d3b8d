/**
 * The terminal's list of identity keys seen per name (known_identities.ts)
 * in `<config folder>/known_identities`, mode 0600 whatever the umask, in a
 * 0700 folder: a first key is added at its end (a host may name 10,000
 * people, and writing the file whole for each cost time in proportion to
 * it), any other change written atomically. Every `chat connect` of the OS account
 * reads and changes it, each under the lock `known_identities.lock` beside
 * it: one that read it while another was writing would otherwise write its
 * own old copy over the other's new key.
 *
 * @module
 */

import { join } from "node:path";
import { defaultConfigDir } from "../crypto/identity_files.ts";
import { fileSlot } from "./file_slot.ts";
import {
  KnownIdentities,
  MAX_KNOWN_IDENTITIES_BYTES,
} from "./known_identities.ts";

/**
 * How long a change waits for another process's: that one holds the lock for
 * a read and a write, milliseconds, so a wait this long means a process
 * stopped in the middle (suspended with Ctrl+Z, say).
 */
const LOCK_WAIT_MS = 5_000;

/** `<config folder>/known_identities`. */
export function defaultKnownIdentitiesPath(): string {
  return join(defaultConfigDir(), "known_identities");
}

/**
 * The list in the file `path` (a missing file is an empty list).
 *
 * @throws {Error} if the file exists but cannot be read
 */
export function loadKnownIdentities(
  path: string,
  { readTextFile }: { readTextFile?: (path: string) => Promise<string> } = {},
): Promise<KnownIdentities> {
  // Read again before each decision that is not "same" (a check per
  // end-to-end message): only when the file changed.
  return KnownIdentities.load(
    fileSlot(path, "known identities", MAX_KNOWN_IDENTITIES_BYTES, {
      lockWaitMs: LOCK_WAIT_MS,
      reuseUnchanged: true,
      ...(readTextFile === undefined ? {} : { readTextFile }),
    }),
  );
}
