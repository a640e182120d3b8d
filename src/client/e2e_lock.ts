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
 * The lock is an exclusive advisory lock (flock) on
 * `e2e_lock_<fingerprint>_<name>`, held until the process ends: the kernel
 * lets it go however the process ends, SIGKILL included, so a crash never
 * locks the user out. The file holds the holder's pid, only to name it to the next one.
 *
 * @module
 */

import { dirname } from "node:path";
import { createPrivateDir, PRIVATE_FILE_MODE } from "../fs/private_paths.ts";

/** Ours until `release` (or the process's end); or held by another process. */
export type E2eLock =
  | { kind: "held"; release: () => void }
  | { kind: "elsewhere"; pid: number | null };

/** How often a held lock is tried again while waiting for it. */
const RETRY_MS = 100;

/**
 * Takes the lock in `path`, waiting up to `waitMs` for its holder to end.
 *
 * @throws {Error} if the lock file cannot be opened
 */
export async function lockE2eFiles(
  path: string,
  waitMs = 0,
): Promise<E2eLock> {
  const deadline = Date.now() + waitMs;
  createPrivateDir(dirname(path));
  // Not truncated on open: the holder's pid stays readable until we hold it.
  const file = await Deno.open(path, {
    read: true,
    write: true,
    create: true,
    mode: PRIVATE_FILE_MODE,
  });
  let held = false;
  try {
    // Tried again rather than waited for in one lock call: that one could
    // not be given up at the deadline.
    while (!await file.tryLock(true)) {
      if (Date.now() >= deadline) {
        return { kind: "elsewhere", pid: holderPid(await readSome(file)) };
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    held = true;
    return { kind: "held", release: () => file.close() };
  } finally {
    if (!held) file.close();
  }
}

/** The warning a second `chat connect` of the same name shows. */
export function e2eElsewhereWarning(name: string, pid: number | null): string {
  const which = pid === null ? "" : ` (pid ${pid})`;
  return `WARNING: Another chat connect signed in as ${name} has its end-to-end keys${which}: private messages work in that one only (end it and start this one again to use them here)`;
}

/** The pid written in a lock file's text; null if there is none. */
export function holderPid(text: string): number | null {
  const match = /^(\d{1,10})\n?$/.exec(text);
  return match === null ? null : Number(match[1]);
}

async function readSome(file: Deno.FsFile): Promise<string> {
  const buffer = new Uint8Array(64);
  const read = await file.read(buffer);
  return new TextDecoder().decode(buffer.subarray(0, read ?? 0));
}
