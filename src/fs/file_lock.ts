/**
 * An exclusive advisory lock (flock) on a file, for what several processes
 * of one OS account share in the config folder: the end-to-end files of a
 * name (client/e2e_lock.ts, held while the process runs) and the list of
 * identity keys seen (client/file_slot.ts, held for one read and write).
 *
 * The kernel lets the lock go however its process ends, SIGKILL included,
 * so a crash never locks anyone out. The file holds the holder's pid, only
 * to name it to the next one.
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
 * @throws {Error} if the lock file cannot be opened
 */
export async function lockFile(
  path: string,
  { waitMs = 0, retryMs = 100 }: { waitMs?: number; retryMs?: number } = {},
): Promise<FileLock> {
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
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    held = true;
    return { kind: "held", release: () => file.close() };
  } finally {
    if (!held) file.close();
  }
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
