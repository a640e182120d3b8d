/**
 * One `chat connect` at a time uses one user's end-to-end files (an
 * identity key signed in as one name: e2e_paths.ts): each process keeps its
 * whole copy in memory and saves it over the file, so two would lose each
 * other's sessions and one-time prekeys. The server refuses a name while it
 * is online, but not while its process is away reconnecting (its network
 * gone, the server restarted): a second process of the same name can then
 * sign in while the first still holds the keys (until it comes back and
 * takes the name over again). The web page does the same with a Web Lock.
 *
 * Other names of the same identity have their own files and lock, and are
 * never refused: every terminal of one OS account shares the identity key.
 *
 * The server lets the same key signing in as the same name take over the
 * session (a reconnection it has not noticed the end of yet): the process
 * it replaced then ends, so a newcomer waits a little for the lock before
 * going on without the keys.
 *
 * The lock is an exclusive lock on `e2e_lock_<fingerprint>_<name>`
 * (fs/file_lock.ts), held until the process ends.
 *
 * @module
 */

import { type FileLock, lockFile } from "../fs/file_lock.ts";

/**
 * Takes the lock in `path`, waiting up to `waitMs` for its holder to end.
 *
 * @throws {Error} if the lock file cannot be opened
 */
export function lockE2eFiles(path: string, waitMs = 0): Promise<FileLock> {
  return lockFile(path, { waitMs });
}

/** The warning a second `chat connect` of the same name shows. */
export function e2eElsewhereWarning(name: string, pid: number | null): string {
  const which = pid === null ? "" : ` (pid ${pid})`;
  return `WARNING: Another chat connect signed in as ${name} has its end-to-end keys${which}: private messages work in that one only (end it and start this one again to use them here)`;
}
