/**
 * Folders and files only their owner may use: the server's data folder and
 * database, key files, the client's configuration. Modes are set exactly,
 * whatever the umask: a folder is chmod-ed after `mkdir` (which the umask
 * narrows or, with a permissive umask, leaves too open), and an existing
 * folder or file that group or others can use is narrowed, or reported.
 *
 * Windows has no Unix permission bits (Deno.chmod throws there, and stat
 * gives no mode): there everything here does nothing, and the folders
 * inherit the ACL of the user's profile.
 */

import {
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fstatSync,
  openSync,
} from "node:fs";
import { dirname } from "node:path";

/** Only the owner may list, enter or change it. */
export const PRIVATE_DIR_MODE = 0o700;
/** Only the owner may read or write it. */
export const PRIVATE_FILE_MODE = 0o600;

/** Permission bits that give the group or others any access. */
const GROUP_OR_OTHERS = 0o077;

/** A mode this module narrowed. */
export interface ModeChange {
  path: string;
  from: number;
  to: number;
}

function hasModes(): boolean {
  return Deno.build.os !== "windows";
}

/** "0644": permission bits as chmod and ls users know them. */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * Creates `path` and any missing parents. If `path` itself did not exist,
 * it ends up exactly {@link PRIVATE_DIR_MODE}; an existing folder is left as
 * it is (see {@link restrictMode}), since it may be anyone's, like /tmp.
 *
 * @throws the error of `Deno.mkdir` or `Deno.chmod`
 */
export function createPrivateDir(path: string): void {
  let existed = true;
  try {
    Deno.statSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    existed = false;
  }
  Deno.mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (!existed && hasModes()) Deno.chmodSync(path, PRIVATE_DIR_MODE);
}

/**
 * Replaces the file at `path` with `text`, mode 0600, in its private folder
 * (created 0700 if missing): written to a temporary file beside it and renamed
 * over it, so a reader sees the old text or the new, never half of it. With
 * `durable`, the file is synced before the rename and the folder after it,
 * so that this holds after a crash of the machine too (each costs a few ms).
 *
 * @throws the error of the failing file operation (the temporary file removed)
 */
export async function writePrivateFileAtomically(
  path: string,
  text: string,
  { durable = false }: { durable?: boolean } = {},
): Promise<void> {
  createPrivateDir(dirname(path));
  const suffix = crypto.getRandomValues(new Uint8Array(6)).toHex();
  const temporary = `${path}.${suffix}.tmp`;
  try {
    // The umask can only remove bits: 0600 at creation stays 0600 or less.
    const file = await Deno.open(temporary, {
      write: true,
      createNew: true,
      mode: PRIVATE_FILE_MODE,
    });
    try {
      const bytes = new TextEncoder().encode(text);
      for (let at = 0; at < bytes.length;) {
        at += await file.write(bytes.subarray(at));
      }
      // On the disk before the rename can be: after a power cut the file is
      // then the old text or the new, never empty.
      if (durable) await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  if (durable) await syncFolder(dirname(path));
}

/** Puts a folder's entries (a rename in it) on the disk, where that exists. */
async function syncFolder(path: string): Promise<void> {
  if (!hasModes()) return; // Windows cannot open a folder as a file.
  const folder = await Deno.open(path, { read: true });
  try {
    await folder.sync();
  } finally {
    folder.close();
  }
}

/**
 * Narrows an existing folder to {@link PRIVATE_DIR_MODE} or file to
 * {@link PRIVATE_FILE_MODE} when the group or others have any access, and
 * says what it changed; null when there is nothing at `path` or nothing to
 * change. Follows a symbolic link, as chmod does.
 *
 * @throws the error of `Deno.stat` (other than not found) or `Deno.chmod`
 */
export function restrictMode(path: string): ModeChange | null {
  if (!hasModes()) return null;
  const mode = looseMode(path);
  if (mode === null) return null;
  const info = Deno.statSync(path);
  const to = info.isDirectory ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
  Deno.chmodSync(path, to);
  return { path, from: mode, to };
}

/**
 * The permission bits of `path` when the group or others have any access to
 * it, else null (also when there is nothing there, or on Windows).
 *
 * @throws the error of `Deno.stat` other than not found
 */
export function looseMode(path: string): number | null {
  if (!hasModes()) return null;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const mode = (info.mode ?? 0) & 0o7777;
  return (mode & GROUP_OR_OTHERS) === 0 ? null : mode;
}

/** The log line for a mode this module narrowed. */
export function describeModeChange(change: ModeChange, what: string): string {
  return `Made ${what} '${change.path}' private: its mode was ${
    formatMode(change.from)
  }, now ${formatMode(change.to)}`;
}

/**
 * ssh's warning for a private key that the group or others can read, with
 * what that risks ("can pose as this server") and the command that fixes it. ssh refuses such a key; chat warns and goes on,
 * so that a server someone relies on still starts.
 */
export function unprotectedKeyWarning(
  path: string,
  mode: number,
  risk: string,
): string {
  const bar = "@".repeat(59);
  return [
    bar,
    "@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @",
    bar,
    `Permissions ${formatMode(mode)} for '${path}' are too open.`,
    `Anyone who can read it ${risk}. Fix it with:`,
    `    chmod 600 '${path.replaceAll("'", `'\\''`)}'`,
  ].join("\n");
}

/**
 * Sets the mode of `file`, open at `path`, to `mode`, never that of what a
 * link put at `path` since points to: `Deno.chmod` follows a link (a file
 * being received, swapped for a link to one of the user's, would have the
 * user's file changed), and Deno.FsFile has no chmod. So `path` is opened
 * again through node:fs, checked to be the same file as `file` (device and
 * inode), and changed through that descriptor (fchmod): what a link leads
 * to is another file, and is left alone. With O_NOFOLLOW too, which
 * Deno.open lacks (Deno 2.9.6 honours it only with every permission: given
 * --allow-read, it resolves a link itself to check the permission, and
 * opens what it leads to). Does nothing on Windows, which has no modes.
 *
 * @throws {Error} if `path` is now a link, or another file than `file`
 */
export async function chmodOpenFile(
  file: Deno.FsFile,
  path: string,
  mode: number,
): Promise<void> {
  if (!hasModes()) return;
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO put there is not waited on.
    fd = openSync(
      path,
      fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK,
    );
  } catch (error) {
    if ((error as { code?: unknown }).code === "ELOOP") {
      throw new Error(`'${path}' was replaced by a link as it was made`);
    }
    throw error;
  }
  try {
    const there = fstatSync(fd);
    const ours = await file.stat();
    if (there.dev !== ours.dev || there.ino !== ours.ino) {
      throw new Error(`'${path}' was replaced by another file as it was made`);
    }
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
