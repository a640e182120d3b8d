/**
 * The terminal's implementation of the storage port (text_slot.ts): a file,
 * read only if it is a small regular file, written atomically with mode
 * 0600 in a 0700 folder (fs/private_paths.ts); for a file several processes
 * change, with a lock file beside it (fs/file_lock.ts).
 *
 * @module
 */

import { writePrivateFileAtomically } from "../fs/private_paths.ts";
import { lockFile } from "../fs/file_lock.ts";
import { describeIoError } from "../fs/io_errors.ts";
import type { TextSlot } from "./text_slot.ts";

/**
 * How often a lock file held by another process is tried again: it holds
 * it for one read and write, a few milliseconds.
 */
const LOCK_RETRY_MS = 5;

/**
 * The file at `path`, holding `what` (for messages: "end-to-end keys"), at
 * most `maxBytes` long: anything larger is the wrong file.
 *
 * With `lockWaitMs`, the slot is changed `exclusively` under a lock on
 * `<path>.lock`, waited for up to that long.
 *
 * With `reuseUnchanged`, a read that finds the file as the last one left it
 * (same device, inode, size, change and modification times) returns the
 * string read then, without reading the file: for a file read again before
 * every decision (known_identities.ts), which another process may have
 * replaced. A write replaces the file by renaming a new one over it, so
 * each write gives it an inode other than the one it replaced; an `append`
 * (a file not `durable` only) keeps the inode, and the version read last
 * becomes the one written, with the text the caller gives.
 * `readTextFile` reads the file (tests count the reads).
 */
export function fileSlot(
  path: string,
  what: string,
  maxBytes: number,
  { durable = false, lockWaitMs, reuseUnchanged = false, readTextFile }: {
    durable?: boolean;
    lockWaitMs?: number;
    reuseUnchanged?: boolean;
    readTextFile?: (path: string) => Promise<string>;
  } = {},
): TextSlot {
  const readText = readTextFile ?? ((at: string) => Deno.readTextFile(at));
  let last: { version: string; text: string } | null = null;
  const slot: TextSlot = {
    where: `'${path}'`,
    async read() {
      try {
        const info = await Deno.stat(path);
        if (!info.isFile || info.size > maxBytes) {
          throw new Error(
            `Cannot read ${what} '${path}': not a small file; move it away`,
          );
        }
        if (!reuseUnchanged) return await readText(path);
        const version = fileVersion(info);
        if (version !== null && last?.version === version) return last.text;
        const text = await readText(path);
        // Stat again: a file replaced during the read is not kept as this
        // version.
        last =
          version !== null && fileVersion(await Deno.stat(path)) === version
            ? { version, text }
            : null;
        return text;
      } catch (error) {
        last = null;
        if (error instanceof Deno.errors.NotFound) return null;
        throw error instanceof Deno.errors.PermissionDenied
          ? new Error(`Cannot read ${what} '${path}': permission denied`)
          : error;
      }
    },
    // Durable: synced with its folder before the write resolves.
    write: (text) => writePrivateFileAtomically(path, text, { durable }),
  };
  if (!durable) {
    // Not for a durable slot: an append is not all or nothing.
    slot.append = async (addition, whole) => {
      // Not created: a missing file is written whole (its mode, its folder).
      const file = await Deno.open(path, { append: true });
      try {
        const before = await file.stat();
        if (!before.isFile || before.size > maxBytes) {
          throw new Error(
            `Cannot write ${what} '${path}': not a small file; move it away`,
          );
        }
        const bytes = new TextEncoder().encode(addition);
        for (let at = 0; at < bytes.length;) {
          at += await file.write(bytes.subarray(at));
        }
        // The file is `whole` now if it was the version read last (under
        // the caller's lock it is): kept as read, so the next read costs a
        // stat. Otherwise it is read again.
        const version = fileVersion(before);
        const after = fileVersion(await file.stat());
        last = version !== null && last?.version === version && after !== null
          ? { version: after, text: whole }
          : null;
      } catch (error) {
        last = null;
        throw error;
      } finally {
        file.close();
      }
    };
  }
  if (lockWaitMs === undefined) return slot;
  const lockPath = `${path}.lock`;
  return {
    ...slot,
    async exclusively(work) {
      let lock;
      try {
        lock = await lockFile(lockPath, {
          waitMs: lockWaitMs,
          retryMs: LOCK_RETRY_MS,
        });
      } catch (error) {
        throw new Error(
          `Cannot lock ${what} '${lockPath}': ${
            describeIoError(error, "write")
          }`,
          { cause: error },
        );
      }
      if (lock.kind === "elsewhere") {
        const holder = lock.pid === null ? "" : ` (pid ${lock.pid})`;
        throw new Error(
          `Cannot change ${what} '${path}': another process${holder} has held '${lockPath}' for over ${lockWaitMs} ms`,
        );
      }
      try {
        return await work();
      } finally {
        lock.release();
      }
    },
  };
}

/** What tells one version of a file from the next, or null if unknown. */
function fileVersion(info: Deno.FileInfo): string | null {
  if (info.ino === null || info.mtime === null || info.ctime === null) {
    return null;
  }
  return `${info.dev} ${info.ino} ${info.size} ${info.mtime.getTime()} ${info.ctime.getTime()}`;
}
