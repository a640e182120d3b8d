/**
 * Versions before per-name files (e2e_paths.ts) kept one keyring and one
 * sessions file per identity key, whatever name signed in. The first
 * process to sign in with that identity after an upgrade takes them over,
 * as its name's, by renaming them: the rename is atomic, so exactly one
 * process gets them and any other finds them gone and starts afresh.
 *
 * That is right because the old files were, in practice, one name's (most
 * people use one name per identity key), or already a mix of several names
 * each saving its whole copy over the other's: then no split is faithful,
 * and one name keeping the whole (its peers' sessions go on) loses less than
 * dropping it, while the others start as a new client does (peers open new
 * sessions from the keys they publish). Copying them to every name instead
 * would give two names the same one-time prekeys and sessions to use twice.
 *
 * Called with the name's lock held (e2e_lock.ts), so no other process of
 * that name writes the new files meanwhile.
 *
 * @module
 */

import type { E2eFilePaths } from "./e2e_paths.ts";

/** What became of the old shared files. */
export type Takeover =
  /** The name has its own files already: the old ones were left alone. */
  | "own"
  /** This process renamed them to the name's. */
  | "taken"
  /** There were none, or another process took them first: a fresh start. */
  | "fresh";

/**
 * Renames the old files of `paths` to the name's, unless the name has a
 * keyring already: those of a name ending in `.` under its older file
 * name, else the shared ones of versions without names. The keyring
 * decides: only the process that renamed it takes the sessions too, so one
 * name never gets another's sessions with its own keys.
 *
 * @throws the error of the failing rename, other than a file not found
 */
export async function takeOverLegacyE2eFiles(
  paths: E2eFilePaths,
  os: typeof Deno.build.os = Deno.build.os,
): Promise<Takeover> {
  if (await exists(paths.keyring)) return "own";
  // A name ending in `.` had its files under the name as it is, before
  // e2e_paths.ts wrote its dots `%2E`. Not on Windows: there that name
  // was the name without the dots, whose files they are.
  if (
    paths.dotted !== null && os !== "windows" &&
    await renameIfThere(paths.dotted.keyring, paths.keyring)
  ) {
    if (!await exists(paths.state)) {
      await renameIfThere(paths.dotted.state, paths.state);
    }
    return "taken";
  }
  if (!await renameIfThere(paths.legacyKeyring, paths.keyring)) return "fresh";
  // rename(2) replaces its target: a state of this name's is kept.
  if (!await exists(paths.state)) {
    await renameIfThere(paths.legacyState, paths.state);
  }
  return "taken";
}

/** Renames `from` to `to`; false if `from` was not there (someone took it). */
async function renameIfThere(from: string, to: string): Promise<boolean> {
  try {
    await Deno.rename(from, to);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
