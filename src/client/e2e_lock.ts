/**
 * One `chat connect` at a time uses an identity's end-to-end files
 * (keyring_file.ts, e2e_state_file.ts): each keeps its whole copy in memory
 * and saves it over the file, so two would lose each other's sessions and
 * one-time prekeys. The web page does the same with a Web Lock.
 *
 * The lock is an exclusive advisory lock (flock) on `<config
 * folder>/e2e_lock_<identity fingerprint>`, taken without waiting and held
 * until the process ends: the kernel lets it go however the process ends,
 * SIGKILL included, so a crash never locks the user out. The file holds the
 * holder's pid, only to name it to the next one.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { defaultConfigDir } from "../crypto/identity_files.ts";
import type { Identity } from "../crypto/identity.ts";
import { createPrivateDir, PRIVATE_FILE_MODE } from "../fs/private_paths.ts";

/** Ours until `release` (or the process's end); or held by another process. */
export type E2eLock =
  | { kind: "held"; release: () => void }
  | { kind: "elsewhere"; pid: number | null };

/** `<config folder>/e2e_lock_<fingerprint>` for an identity. */
export function defaultE2eLockPath(identity: Identity): string {
  const id = identity.fingerprint.replace(/^SHA256:/, "").replaceAll("/", "_")
    .replaceAll("+", "-");
  return join(defaultConfigDir(), `e2e_lock_${id}`);
}

/**
 * Takes the lock in `path` without waiting.
 *
 * @throws {Error} if the lock file cannot be opened
 */
export async function lockE2eFiles(path: string): Promise<E2eLock> {
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
    if (!await file.tryLock(true)) {
      return { kind: "elsewhere", pid: holderPid(await readAll(file)) };
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    held = true;
    return { kind: "held", release: () => file.close() };
  } finally {
    if (!held) file.close();
  }
}

/** The warning a second `chat connect` shows, as the web page's for a second tab. */
export function e2eElsewhereWarning(pid: number | null): string {
  const which = pid === null ? "" : ` (pid ${pid})`;
  return `WARNING: Another chat connect is signed in with your end-to-end keys${which}: private messages work in that one only (end it and start this one again to use them here)`;
}

/** The pid written in a lock file's text; null if there is none. */
export function holderPid(text: string): number | null {
  const match = /^(\d{1,10})\n?$/.exec(text);
  return match === null ? null : Number(match[1]);
}

async function readAll(file: Deno.FsFile): Promise<string> {
  const buffer = new Uint8Array(64);
  const read = await file.read(buffer);
  return new TextDecoder().decode(buffer.subarray(0, read ?? 0));
}
