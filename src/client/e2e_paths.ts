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
 * compares them (lower case), so that a case-insensitive file system
 * (Windows, macOS by default) tells them apart as the server does. A name
 * may end in `.`, which Windows drops from a file name (`bob.` would open
 * `bob`'s files): each dot at the end is written `%2E` (nameInFileName).
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
  /**
   * For a name ending in `.`: its keyring and sessions as versions before
   * nameInFileName named them (the dots as they are); null for any other.
   */
  dotted: { keyring: string; state: string } | null;
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
  const key = nameKey(name);
  const own = `${id}_${nameInFileName(key)}`;
  const before = `${id}_${key}`;
  return {
    keyring: join(configDir, `e2e_keys_${own}`),
    state: join(configDir, `e2e_state_${own}`),
    lock: join(configDir, `e2e_lock_${own}`),
    legacyKeyring: join(configDir, `e2e_keys_${id}`),
    legacyState: join(configDir, `e2e_state_${id}`),
    dotted: own === before ? null : {
      keyring: join(configDir, `e2e_keys_${before}`),
      state: join(configDir, `e2e_state_${before}`),
    },
  };
}

/**
 * A name key (lower case, [a-z0-9_.-]) as it goes into a file name: as it
 * is, but each `.` at its end written `%2E`, since Windows drops dots (and
 * spaces) at the end of a file name. One to one: `%` is in no name, so the
 * `%2E`s at the end say how many dots there were; and no two differ only in
 * case. (The fingerprint beside it is base64, whose case matters: two of
 * one user's identity keys whose SHA-256 differ only in the case of their
 * base64 letters, about 2^-220 for two keys, would share files on a
 * case-insensitive file system.)
 */
export function nameInFileName(key: string): string {
  const kept = key.replace(/\.+$/, "");
  return kept + "%2E".repeat(key.length - kept.length);
}

/** A fingerprint's base64 as base64url: no '/' in a file name. */
function fingerprintInFileName(fingerprint: string): string {
  return fingerprint.replace(/^SHA256:/, "").replaceAll("/", "_")
    .replaceAll("+", "-");
}
