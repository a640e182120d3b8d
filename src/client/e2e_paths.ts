/**
 * Where a terminal client keeps one user's end-to-end files in the config
 * folder: per identity key AND signed-in name.
 *
 * One identity key may own several names (server/identity_gate.ts), and the
 * server keeps prekeys per name (server/prekey_directory.ts), as peers keep
 * their sessions per name: each name has its own keyring and sessions. Every
 * terminal of one OS account shares the default identity.pem and config
 * folder, so two `chat connect` signed in as different names used to keep
 * one file each and save their whole copy over the other's, losing
 * sessions and one-time prekeys. Names are [A-Za-z0-9_.-]
 * (protocol/limits.ts), safe in a file name; they are written as the server
 * compares them (lower case).
 *
 * @module
 */

import { join } from "node:path";
import { isValidName, nameKey } from "../protocol/limits.ts";

/** The end-to-end files of one identity and name, and the older shared ones. */
export interface E2eFilePaths {
  /** The keyring (keyring_file.ts): `e2e_keys_<fingerprint>_<name>`. */
  keyring: string;
  /** The sessions (e2e_state_file.ts): `e2e_state_<fingerprint>_<name>`. */
  state: string;
  /** Held by the process using them (e2e_lock.ts): `e2e_lock_<fingerprint>_<name>`. */
  lock: string;
  /** The keyring of versions without names: `e2e_keys_<fingerprint>`. */
  legacyKeyring: string;
  /** The sessions of versions without names: `e2e_state_<fingerprint>`. */
  legacyState: string;
}

/**
 * The files in `configDir` of the identity key `fingerprint`
 * ("SHA256:<base64>") signed in as `name`.
 *
 * @throws {TypeError} if `name` is not a user name
 */
export function e2eFilePaths(
  configDir: string,
  fingerprint: string,
  name: string,
): E2eFilePaths {
  if (!isValidName(name)) throw new TypeError(`Not a user name: '${name}'`);
  const id = fingerprintInFileName(fingerprint);
  const own = `${id}_${nameKey(name)}`;
  return {
    keyring: join(configDir, `e2e_keys_${own}`),
    state: join(configDir, `e2e_state_${own}`),
    lock: join(configDir, `e2e_lock_${own}`),
    legacyKeyring: join(configDir, `e2e_keys_${id}`),
    legacyState: join(configDir, `e2e_state_${id}`),
  };
}

/** A fingerprint's base64 as base64url: no '/' in a file name. */
function fingerprintInFileName(fingerprint: string): string {
  return fingerprint.replace(/^SHA256:/, "").replaceAll("/", "_")
    .replaceAll("+", "-");
}
