/**
 * An exclusive advisory lock (flock) on a file, for what several processes
 * of one OS account share: in the config folder, the end-to-end files of a
 * name (client/e2e_lock.ts, held while the process runs) and the list of
 * identity keys seen (client/file_slot.ts, held for one read and write); in
 * a downloads folder, a partly received file (files/save.ts, held while it
 * is being received).
 *
 * The kernel lets the lock go however its process ends, SIGKILL included,
 * so a crash never locks anyone out. The file holds the holder's pid, only
 * to name it to the next one.
 *
 * A holder may remove its lock file before letting go (the partial files
 * of a downloads folder, files/save.ts, leave none behind), and its folder
 * once empty: whoever opened the old file meanwhile and locks it after
 * finds it is no longer the file at `path`, and whoever comes to open it
 * as the folder goes finds no folder; both try again, the folder made anew.
 *
 * @module
 */

import { dirname } from "node:path";
import { createPrivateDir, PRIVATE_FILE_MODE } from "./private_paths.ts";

/** Ours until `release` (or the process's end); or held by another process. */
export type FileLock =
  | { kind: "held"; release: () => void }
  | { kind: "elsewhere"; pid: number | null };

/**
 * Takes the lock in `path`, trying again every `retryMs` for up to `waitMs`
 * while another holds it.
 *
 * @throws {Error} if the lock file cannot be opened, or is not a plain file
 *   (a link someone planted: never written through)
 */
export async function lockFile(
  path: string,
  { waitMs = 0, retryMs = 100 }: { waitMs?: number; retryMs?: number } = {},
): Promise<FileLock> {
  const deadline = performance.now() + waitMs;
  for (let attempt = 1;; attempt++) {
    // Each time: the last holder may have removed the folder it emptied.
    createPrivateDir(dirname(path));
    const taken = await lockOpened(path, deadline, retryMs);
    if (taken !== "gone") return taken;
    // Its holder removed it as we locked it (a new one may be there), or
    // its folder before we opened it.
    if (attempt >= MAX_REOPENS) {
      throw new Error(`The lock file '${path}' keeps being removed`);
    }
  }
}

/** Times the lock file is opened again after being removed under us. */
const MAX_REOPENS = 10;

/**
 * Opens the lock file at `path` and locks it; "gone" when its folder is
 * gone, or what was locked is no longer the file at `path` (removed or
 * replaced meanwhile).
 */
async function lockOpened(
  path: string,
  deadline: number,
  retryMs: number,
): Promise<FileLock | "gone"> {
  assertNotLink(await lstatOrNull(path), path);
  const file = await openLockFile(path);
  if (file === "gone") return "gone";
  let held = false;
  try {
    // Tried again rather than waited for in one lock call: that one could
    // not be given up at the deadline.
    while (!await file.tryLock(true)) {
      if (performance.now() >= deadline) {
        return { kind: "elsewhere", pid: holderPid(await readSome(file)) };
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
    // Checked before a byte is written: a link planted between the look
    // above and the open would have the pid written over its target.
    const there = await lstatOrNull(path);
    assertNotLink(there, path);
    if (there === null || !sameFile(there, await file.stat())) return "gone";
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    held = true;
    return { kind: "held", release: () => file.close() };
  } finally {
    if (!held) file.close();
  }
}

/**
 * Opens the lock file at `path`, making it if there is none, without ever
 * making a file through a link planted there after the look in
 * `lockOpened` (Deno.open has no O_NOFOLLOW, and `create` follows a link to
 * make its target: an empty file wherever its planter likes). Made with
 * `createNew` (O_CREAT|O_EXCL), which fails on anything at `path`, a link
 * too, without following it; one that is there is opened without
 * `create`, which makes nothing. A link to an existing file is then
 * opened, never written: `lockOpened` finds it is not the file at `path`.
 * "gone" when its folder is gone, or it was removed (or is a link to
 * nothing) between the two opens: looked at again.
 */
async function openLockFile(path: string): Promise<Deno.FsFile | "gone"> {
  try {
    return await Deno.open(path, {
      read: true,
      write: true,
      createNew: true,
      mode: PRIVATE_FILE_MODE,
    });
  } catch (error) {
    // A missing folder: removed since we made it.
    if (error instanceof Deno.errors.NotFound) return "gone";
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  try {
    // Not truncated on open: the holder's pid stays readable until we hold
    // it.
    return await Deno.open(path, { read: true, write: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "gone";
    throw error;
  }
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function assertNotLink(info: Deno.FileInfo | null, path: string): void {
  if (info !== null && !info.isFile) {
    throw new Error(`The lock file '${path}' is not a plain file`);
  }
}

/** Whether two infos are of one file (always, where there are no inodes). */
function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  if (a.ino === null || b.ino === null) return true;
  return a.dev === b.dev && a.ino === b.ino;
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
