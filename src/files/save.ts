/**
 * Saving a received file: the disk edge of the file transfer.
 *
 * Everything about the file is untrusted, so the rules are: the name goes
 * through {@linkcode safeFileName}; bytes land in a fresh `.part` file that
 * is created exclusively (a symlink or file planted under that name is never
 * followed or overwritten); nothing beyond the declared size is written; the
 * file only gets its real name once its size and SHA-256 match, and that
 * name is one that did not exist, so no existing file is ever replaced. Any
 * failure removes the `.part`. Files are never made executable.
 *
 * Every failure is a {@linkcode SaveError} whose message can be shown to the
 * user as it is.
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createSha256, type Sha256 } from "./digest.ts";
import { numberedName, safeFileName } from "./naming.ts";
import { lockPartial, type PartialMeta, partialPaths } from "./partials.ts";
import { chmodOpenFile } from "../fs/private_paths.ts";
import { writeAll } from "../transport/write_all.ts";

/**
 * Received files are the owner's alone and never executable; the folder too,
 * so no one else on the machine can read, plant or swap files in it. Set
 * with chmod after creating, so the umask cannot widen or narrow them.
 */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/** How many ` (n)` variants of a name are tried before giving up. */
const MAX_NAME_ATTEMPTS = 1000;

/**
 * Free space a transfer must leave behind, so that accepting a file that
 * just fits does not leave the system with a full disk.
 */
const FREE_SPACE_MARGIN = 16 * 1024 * 1024;

const PART_SUFFIX = ".part";

/** A received file that cannot be saved; the message is meant for the user. */
export class SaveError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SaveError";
  }
}

export interface IncomingFileOptions {
  /** Largest file accepted, in bytes. */
  maxBytes: number;
  /**
   * The folder is chat's own (the default `chat-downloads`): made 0700 even
   * if it already existed (an earlier version created it 0755). A folder the
   * user named keeps the mode it has.
   */
  ownFolder?: boolean;
  /**
   * Keep the bytes as a resumable partial (files/partials.ts) under `key`,
   * continuing one already there: {@linkcode IncomingFile.held} says how
   * much it holds. While another process is receiving into that partial,
   * the file is received afresh, as one not resumable
   * ({@linkcode IncomingFile.resumable} false).
   */
  resume?: { key: string; meta: PartialMeta };
}

/** Where {@linkcode IncomingFile.finish} put the file. */
export interface SavedFile {
  /** Absolute path of the saved file. */
  path: string;
  /** Its name inside the downloads folder (maybe with ` (n)` added). */
  name: string;
  /** The SHA-256 of its bytes (not keyed), 64 lower-case hex digits. */
  sha256: string;
}

/**
 * `$HOME/Downloads/chat-downloads` when `$HOME/Downloads` exists, otherwise
 * `$HOME/chat-downloads` (`%USERPROFILE%` instead of `$HOME` on Windows).
 *
 * @throws {SaveError} if the home folder is not set
 */
export function defaultDownloadsDir(): string {
  const variable = Deno.build.os === "windows" ? "USERPROFILE" : "HOME";
  const home = Deno.env.get(variable);
  if (!home) {
    throw new SaveError(
      `Cannot find your home folder: set ${variable} or choose a downloads folder`,
    );
  }
  const downloads = join(home, "Downloads");
  return join(isDirectory(downloads) ? downloads : home, "chat-downloads");
}

type State = "open" | "finishing" | "finished" | "aborted";

/**
 * A file being received into a downloads folder.
 *
 * @example
 * ```ts
 * const file = await IncomingFile.create(dir, offer.name, offer.size, {
 *   maxBytes: 1 << 30,
 * });
 * try {
 *   for await (const chunk of chunks) await file.write(chunk);
 *   const { path } = await file.finish(offer.sha256);
 * } catch (error) {
 *   await file.abort("transfer failed");
 *   throw error;
 * }
 * ```
 */
export class IncomingFile {
  readonly #dir: string;
  readonly #name: string;
  readonly #partPath: string;
  readonly #declaredSize: number;
  #hash: Sha256 = createSha256();
  #file: Deno.FsFile | undefined;
  #received = 0;
  #state: State = "open";
  #abortReason = "";
  /** Writes run one after another even if the caller does not await them. */
  #queue: Promise<void> = Promise.resolve();
  /** Cleared once a hard link fails for a reason other than a taken name. */
  #linkWorks = true;
  /**
   * The `.part` we created and wrote (device and inode of the open handle);
   * null where the platform has none (Windows). In a folder others can
   * write, the file under the `.part` name may be swapped for theirs before
   * it gets its final name: checked before and after the move.
   */
  #identity: FileIdentity | null = null;
  /** The partial's description, for a resumable file (removed once saved). */
  readonly #metaPath: string | null;
  /**
   * Lets go of the partial's lock (files/partials.ts lockPartial), for a
   * resumable file; null once let go.
   */
  #unlockPartial: (() => Promise<void>) | null;

  private constructor(
    dir: string,
    name: string,
    partPath: string,
    file: Deno.FsFile,
    declaredSize: number,
    partial: { metaPath: string; unlock: () => Promise<void> } | null = null,
  ) {
    this.#dir = dir;
    this.#name = name;
    this.#partPath = partPath;
    this.#file = file;
    this.#declaredSize = declaredSize;
    this.#metaPath = partial?.metaPath ?? null;
    this.#unlockPartial = partial?.unlock ?? null;
    receiving.add(this);
  }

  /**
   * Bytes the files being received into `dir` will still take: each one's
   * announced size less what it has written. Files that are done are
   * forgotten here.
   */
  static #promisedIn(dir: string): number {
    let promised = 0;
    for (const file of receiving) {
      if (file.#state === "finished" || file.#state === "aborted") {
        receiving.delete(file);
      } else if (file.#dir === dir) {
        promised += Math.max(0, file.#declaredSize - file.#received);
      }
    }
    return promised;
  }

  /**
   * Checks the offer and opens a new `.part` file for it in `dir`, creating
   * `dir` if missing. Nothing is created when the file is refused for its
   * size.
   *
   * @param untrustedName the name the sender gave; it is made safe here
   * @param declaredSize the size the sender announced; no more is accepted
   * @throws {SaveError} if the file is too large for `opts.maxBytes` or the
   *   free space, or `dir` is a symlink or not a folder, or cannot be written
   */
  static async create(
    dir: string,
    untrustedName: string,
    declaredSize: number,
    opts: IncomingFileOptions,
  ): Promise<IncomingFile> {
    if (!Number.isSafeInteger(declaredSize) || declaredSize < 0) {
      throw new SaveError(
        `Cannot accept the file: the sender gave an invalid size (${declaredSize})`,
      );
    }
    const tooLarge = sizeRefusal(declaredSize, opts.maxBytes);
    if (tooLarge !== null) throw new SaveError(tooLarge);
    const directory = resolve(dir);
    await ensureDirectory(directory, opts.ownFolder ?? false);
    // Less what files already being received there will take: each alone
    // fitted, and together they filled the disk (found in review).
    await checkFreeSpace(
      directory,
      declaredSize,
      IncomingFile.#promisedIn(directory),
    );
    const name = safeFileName(untrustedName);
    if (opts.resume !== undefined) {
      const partial = await IncomingFile.#openPartial(
        directory,
        name,
        declaredSize,
        opts.resume,
      );
      // Held by another process receiving the same file (one downloads
      // folder, two names): received afresh, under a name of its own, rather
      // than waited for. That one may take as long as the file does, past
      // the sender's wait for an answer, and both processes get the file.
      if (partial !== null) return partial;
    }
    const { file, path } = await createPart(directory, name);
    // Marked before a single byte lands, and the mark stays with the file
    // when it gets its final name (a hard link or rename keeps it).
    await markDownloaded(path);
    return new IncomingFile(directory, name, path, file, declaredSize);
  }

  /**
   * Continues (or starts) the partial under `resume.key`: what it holds is
   * hashed, so that {@linkcode resumeClaim} can say how much and what. Null
   * while another process holds it.
   */
  static async #openPartial(
    directory: string,
    name: string,
    declaredSize: number,
    resume: { key: string; meta: PartialMeta },
  ): Promise<IncomingFile | null> {
    const paths = partialPaths(directory, resume.key);
    await ensureDirectory(paths.dir, true);
    // Should another transfer remove the folder as it empties it, from
    // here on, lockPartial makes it anew (fs/file_lock.ts).
    let lock;
    try {
      lock = await lockPartial(paths.lock);
    } catch (error) {
      throw new SaveError(
        `Cannot lock a file in '${paths.dir}': ${
          describeFolderError(error, paths.dir)
        }`,
        { cause: error },
      );
    }
    if (lock === null) return null;
    try {
      return await IncomingFile.#continuePartial(
        directory,
        name,
        declaredSize,
        resume.meta,
        paths,
        lock.release,
      );
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** {@linkcode IncomingFile.#openPartial}'s work, its lock held. */
  static async #continuePartial(
    directory: string,
    name: string,
    declaredSize: number,
    meta: PartialMeta,
    paths: ReturnType<typeof partialPaths>,
    unlock: () => Promise<void>,
  ): Promise<IncomingFile> {
    let file: Deno.FsFile;
    let existed = false;
    try {
      const info = await Deno.lstat(paths.part);
      // Never follow or reuse something that is not a plain file of ours.
      if (!info.isFile || info.size > declaredSize) {
        await Deno.remove(paths.part);
        throw new Deno.errors.NotFound();
      }
      file = await Deno.open(paths.part, { read: true, write: true });
      let opened: FileIdentity | null;
      try {
        opened = identityOf(await file.stat());
      } catch (error) {
        file.close();
        throw error;
      }
      const seen = identityOf(info);
      if (
        opened !== null && seen !== null &&
        (opened.dev !== seen.dev || opened.ino !== seen.ino)
      ) {
        file.close();
        throw new SaveError(
          `Cannot resume '${name}': its partial file was replaced in '${paths.dir}'`,
        );
      }
      existed = true;
    } catch (error) {
      if (error instanceof SaveError) throw error;
      try {
        file = await Deno.open(paths.part, {
          read: true,
          write: true,
          createNew: true,
          mode: FILE_MODE,
        });
      } catch (error) {
        throw new SaveError(
          `Cannot create a file in '${paths.dir}': ${
            describeFolderError(error, paths.dir)
          }`,
          { cause: error },
        );
      }
    }
    try {
      await chmodOpenFile(file, paths.part, FILE_MODE);
      // Written anew, never through what is at its name: in a folder others
      // can write, the partials folder may have been swapped for theirs,
      // with a symlink there to a file of the user's, which a plain write
      // would follow and overwrite. remove() takes a link itself, and
      // createNew (O_EXCL) fails on one planted again in between.
      await Deno.remove(paths.meta).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
      const metaFile = await Deno.open(paths.meta, {
        write: true,
        createNew: true,
        mode: FILE_MODE,
      });
      try {
        await chmodOpenFile(metaFile, paths.meta, FILE_MODE);
        await writeAll(
          metaFile,
          new TextEncoder().encode(JSON.stringify(meta)),
        );
      } finally {
        metaFile.close();
      }
      if (!existed) await markDownloaded(paths.part);
    } catch (error) {
      file.close();
      throw new SaveError(
        `Cannot write in '${paths.dir}': ${
          describeFolderError(error, paths.dir)
        }`,
        { cause: error },
      );
    }
    // Hashed before the IncomingFile exists: one that failed here would
    // stay among those being received (their bytes still to come counted
    // against the free space), its part open.
    let held: HashedPart | null = null;
    try {
      if (existed) held = await hashPart(file, Infinity);
    } catch (error) {
      file.close();
      throw new SaveError(
        `Cannot resume '${name}': ${describeFolderError(error, paths.dir)}`,
        { cause: error },
      );
    }
    const incoming = new IncomingFile(
      directory,
      name,
      paths.part,
      file,
      declaredSize,
      { metaPath: paths.meta, unlock },
    );
    if (held !== null) {
      incoming.#hash = held.hash;
      incoming.#received = held.length;
    }
    return incoming;
  }

  /**
   * Hashes the first `upTo` bytes of the part afresh, cuts it there, and
   * leaves the file positioned to append.
   */
  async #rehash(upTo: number): Promise<void> {
    const { hash, length } = await hashPart(this.#file!, upTo);
    this.#hash = hash;
    this.#received = length;
  }

  /**
   * What a resumable file already holds, to claim in `file_accept`: its
   * length and SHA-256; null when it holds nothing.
   */
  resumeClaim(): { offset: number; sha256: string } | null {
    if (this.#metaPath === null || this.#received === 0) return null;
    return { offset: this.#received, sha256: this.#hash.peekHex() };
  }

  /**
   * The sender continues at `offset`: keeps the first `offset` bytes (the
   * rest is sent again).
   *
   * @throws {SaveError} if `offset` is past what is held
   */
  rewindTo(offset: number): Promise<void> {
    const run = this.#queue.then(async () => {
      this.#assertOpen();
      if (offset === this.#received) return;
      if (offset > this.#received) {
        throw new SaveError(
          `Cannot resume '${this.#name}': the sender continued at ${offset} bytes, but only ${this.#received} are here`,
        );
      }
      await this.#rehash(offset);
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Whether this is a resumable partial (kept when the transfer breaks). */
  get resumable(): boolean {
    return this.#metaPath !== null;
  }

  /** Bytes written so far. */
  get received(): number {
    return this.#received;
  }

  /** The size the sender announced. */
  get declaredSize(): number {
    return this.#declaredSize;
  }

  /** The safe name the file will be saved under, before any ` (n)`. */
  get name(): string {
    return this.#name;
  }

  /** Absolute path of the `.part` file the bytes are written to. */
  get partPath(): string {
    return this.#partPath;
  }

  /**
   * Appends `chunk` to the file. Calls are applied in order.
   *
   * @throws {SaveError} if the chunk would go past the declared size, the
   *   disk is full or the write fails; the `.part` is removed then
   */
  write(chunk: Uint8Array): Promise<void> {
    const run = this.#queue.then(() => this.#append(chunk));
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Checks that all declared bytes arrived and that their SHA-256 (as
   * `keyed` makes it, unchanged by default) is `expectedSha256Hex`, then
   * gives the file its final name: the safe name,
   * or `name (1).ext`, `name (2).ext`, … if that is taken. An existing file
   * or symlink is never replaced.
   *
   * @throws {SaveError} if the file is truncated, fails the checksum or
   *   cannot be moved into place; the `.part` is removed then
   */
  async finish(
    expectedSha256Hex: string,
    keyed: (sha256Hex: string) => Promise<string> = (hex) =>
      Promise.resolve(hex),
  ): Promise<SavedFile> {
    await this.#queue;
    this.#assertOpen();
    this.#state = "finishing";
    try {
      if (this.#received !== this.#declaredSize) {
        throw new SaveError(
          `Cannot save '${this.#name}': the file is truncated: got ${this.#received} of ${this.#declaredSize} bytes`,
        );
      }
      const sha256 = this.#hash.digestHex();
      if (await keyed(sha256) !== expectedSha256Hex.toLowerCase()) {
        throw new SaveError(
          `Cannot save '${this.#name}': checksum mismatch, the file was damaged or altered on the way`,
        );
      }
      this.#identity = identityOf(await this.#file!.stat());
      this.#closeFile();
      const saved = { ...await this.#moveIntoPlace(), sha256 };
      this.#state = "finished";
      if (this.#metaPath !== null) {
        await Deno.remove(this.#metaPath).catch(() => {});
        await this.#letPartialGo();
        await removeIfEmpty(dirname(this.#metaPath));
      }
      return saved;
    } catch (error) {
      this.#state = "aborted";
      this.#abortReason = error instanceof Error ? error.message : "failed";
      await this.#discard();
      throw error;
    }
  }

  /**
   * Stops receiving: closes and removes the `.part`. Does nothing if the
   * file was already aborted or saved, or while {@linkcode finish} is
   * running (it cleans up itself if it fails).
   */
  async abort(reason: string): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "aborted";
    this.#abortReason = reason;
    await this.#discard();
  }

  /**
   * Stops receiving but keeps a resumable partial for a later offer of the
   * same file (a lost connection); other files are removed as by
   * {@linkcode abort}.
   */
  async suspend(reason: string): Promise<void> {
    if (this.#metaPath === null) return await this.abort(reason);
    if (this.#state !== "open") return;
    await this.#queue;
    if (this.#state !== "open") return;
    this.#state = "aborted";
    this.#abortReason = reason;
    this.#closeFile();
    await this.#letPartialGo();
  }

  async #append(chunk: Uint8Array): Promise<void> {
    this.#assertOpen();
    const file = this.#file;
    if (file === undefined) throw new SaveError(`'${this.#name}' is closed`);
    if (chunk.length > this.#declaredSize - this.#received) {
      const reason =
        `Cannot save '${this.#name}': the sender sent more than the ${this.#declaredSize} bytes it announced`;
      await this.abort(reason);
      throw new SaveError(reason);
    }
    try {
      await writeAll(file, chunk);
    } catch (error) {
      // An abort() while this write was under way closed the file.
      this.#assertOpen();
      const failure = new SaveError(
        `Cannot save '${this.#name}': ${describeFolderError(error, this.#dir)}`,
        { cause: error },
      );
      await this.abort(failure.message);
      throw failure;
    }
    this.#hash.update(chunk);
    this.#received += chunk.length;
  }

  #assertOpen(): void {
    switch (this.#state) {
      case "open":
        return;
      case "aborted":
        throw new SaveError(this.#abortReason);
      case "finishing":
      case "finished":
        throw new SaveError(`'${this.#name}' is already complete`);
      default: {
        const unreachable: never = this.#state;
        throw new TypeError(`Unknown state ${unreachable}`);
      }
    }
  }

  #closeFile(): void {
    const file = this.#file;
    this.#file = undefined;
    try {
      file?.close();
    } catch {
      // Already closed: there is nothing left to release.
    }
  }

  async #discard(): Promise<void> {
    this.#closeFile();
    if (this.#metaPath !== null) {
      await Deno.remove(this.#metaPath).catch(() => {});
    }
    try {
      await Deno.remove(this.#partPath);
    } catch {
      // Best effort: already gone, or the folder became unwritable. The
      // `.part` name makes a leftover recognisable as incomplete.
    }
    if (this.#metaPath !== null) {
      await this.#letPartialGo();
      await removeIfEmpty(dirname(this.#metaPath));
    }
  }

  /**
   * Lets another process continue the partial, once this one is done with
   * its files: saved, removed or kept to resume.
   */
  async #letPartialGo(): Promise<void> {
    const unlock = this.#unlockPartial;
    this.#unlockPartial = null;
    await unlock?.();
  }

  async #moveIntoPlace(): Promise<Omit<SavedFile, "sha256">> {
    for (let n = 0; n < MAX_NAME_ATTEMPTS; n++) {
      const name = numberedName(this.#name, n);
      const path = join(this.#dir, name);
      if (await this.#claim(path)) return { path, name };
    }
    throw new SaveError(
      `Cannot save '${this.#name}': ${MAX_NAME_ATTEMPTS} files with that name already exist in '${this.#dir}', remove some`,
    );
  }

  /**
   * Throws unless the entry at `path` (not followed) is the file we wrote.
   * `removeIfNot`: the entry is ours to remove (we just put it there).
   */
  async #assertOurs(path: string, removeIfNot: boolean): Promise<void> {
    const expected = this.#identity;
    if (expected === null) return;
    let info: Deno.FileInfo | null;
    try {
      info = await Deno.lstat(path);
    } catch {
      info = null;
    }
    const actual = info === null || !info.isFile ? null : identityOf(info);
    if (
      actual !== null && actual.dev === expected.dev &&
      actual.ino === expected.ino
    ) return;
    if (removeIfNot) await Deno.remove(path).catch(() => {});
    throw new SaveError(
      `Cannot save '${this.#name}': the file being received was replaced by another one in '${this.#dir}' (someone else can write to that folder); choose a downloads folder only you can write to`,
    );
  }

  /** Moves the part to `path` unless something exists there; true if moved. */
  async #claim(path: string): Promise<boolean> {
    await this.#assertOurs(this.#partPath, false);
    if (this.#linkWorks) {
      try {
        // link() fails if `path` exists, even as a dangling symlink, and
        // never follows one: the no-replace rename the platform lacks.
        await Deno.link(this.#partPath, path);
        // A swap between the check above and the link shows here.
        await this.#assertOurs(path, true);
        await Deno.remove(this.#partPath).catch(() => {});
        return true;
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) return false;
        if (error instanceof Deno.errors.NotCapable) {
          throw this.#moveError(error);
        }
        // No hard links here (FAT, exFAT, some network or FUSE filesystems
        // say EPERM or ENOTSUP). Any real problem shows up in rename below.
        this.#linkWorks = false;
      }
    }
    // rename() replaces an existing file, so look first. Someone racing us
    // inside the downloads folder could still slip a file in between; that
    // is the price of a filesystem without hard links.
    try {
      await Deno.lstat(path);
      return false;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw this.#moveError(error);
      }
    }
    try {
      await Deno.rename(this.#partPath, path);
    } catch (error) {
      throw this.#moveError(error);
    }
    await this.#assertOurs(path, true);
    return true;
  }

  #moveError(error: unknown): SaveError {
    return new SaveError(
      `Cannot save '${this.#name}': ${describeFolderError(error, this.#dir)}`,
      { cause: error },
    );
  }
}

/** What the start of a partial's part holds. */
interface HashedPart {
  hash: Sha256;
  length: number;
}

/**
 * Hashes the first `upTo` bytes of `file` (all of it for Infinity), cuts it
 * there, and leaves it positioned to append.
 */
async function hashPart(
  file: Deno.FsFile,
  upTo: number,
): Promise<HashedPart> {
  const hash = createSha256();
  let length = 0;
  await file.seek(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(1024 * 1024);
  while (length < upTo) {
    const want = Math.min(buffer.length, upTo - length);
    const read = await file.read(buffer.subarray(0, want));
    if (read === null || read === 0) break;
    hash.update(buffer.subarray(0, read));
    length += read;
  }
  await file.truncate(length);
  await file.seek(length, Deno.SeekMode.Start);
  return { hash, length };
}

interface FileIdentity {
  dev: number;
  ino: number;
}

function identityOf(info: Deno.FileInfo): FileIdentity | null {
  return info.ino === null ? null : { dev: info.dev, ino: info.ino };
}

/**
 * A warning for a downloads folder the user named that others can write to
 * (group or others have write permission), or null. In such a folder a
 * file being received can be swapped for another before it gets its final
 * name; chat checks for that, but a folder only the user can write is the
 * fix. A missing folder is created 0700: nothing to warn about.
 */
export async function sharedFolderWarning(dir: string): Promise<string | null> {
  if (Deno.build.os === "windows") return null;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    return null;
  }
  const mode = (info.mode ?? 0) & 0o7777;
  if (!info.isDirectory || (mode & 0o022) === 0) return null;
  return `WARNING: others can write to the downloads folder '${dir}' (mode ${
    mode.toString(8).padStart(4, "0")
  }): they could swap a file as it arrives. chat refuses a swapped file, but choose a folder only you can write to (or chmod go-w it)`;
}

/**
 * Why a file of `declaredSize` bytes cannot be accepted under `maxBytes`, or
 * null if it can (as far as its size goes).
 */
export function sizeRefusal(
  declaredSize: number,
  maxBytes: number,
): string | null {
  if (declaredSize <= maxBytes) return null;
  const [size, limit] = formatSizes(declaredSize, maxBytes);
  return `Cannot accept the file: it is ${size}, over the limit of ${limit}`;
}

/**
 * Marks a file as downloaded from elsewhere, as browsers do, so the system
 * warns before running it or opening it with active content: the
 * `Zone.Identifier` stream with zone 3 (Internet) on Windows, the
 * `com.apple.quarantine` attribute on macOS. Best effort: a filesystem
 * without streams or attributes (FAT, some network shares) saves the file
 * unmarked.
 */
export async function markDownloaded(
  path: string,
  os: typeof Deno.build.os = Deno.build.os,
): Promise<void> {
  const mark = downloadMark(path, os);
  try {
    if (mark?.kind === "stream") {
      await Deno.writeTextFile(mark.path, mark.content);
    } else if (mark?.kind === "command") {
      await new Deno.Command(mark.command[0]!, {
        args: mark.command.slice(1),
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
    }
  } catch {
    // Unmarked, as on Linux: chat still never opens it unless it is passive.
  }
}

export type DownloadMark =
  | { kind: "stream"; path: string; content: string }
  | { kind: "command"; command: string[] };

/** How {@linkcode markDownloaded} marks `path` on `os` (null: no such mark). */
export function downloadMark(
  path: string,
  os: typeof Deno.build.os,
  now: number = Date.now(),
): DownloadMark | null {
  switch (os) {
    case "windows":
      return {
        kind: "stream",
        path: `${path}:Zone.Identifier`,
        content: "[ZoneTransfer]\r\nZoneId=3\r\n",
      };
    case "darwin": {
      // flags;time (hex seconds);agent;id. 0083: downloaded, user-approval
      // required before first launch.
      const time = Math.floor(now / 1000).toString(16).padStart(8, "0");
      return {
        kind: "command",
        command: [
          "/usr/bin/xattr",
          "-w",
          "com.apple.quarantine",
          `0083;${time};chat;`,
          path,
        ],
      };
    }
    default:
      return null;
  }
}

/**
 * Creates `dir` (mode 0700) if missing and refuses anything but a real
 * directory. `own`: chat's own folder, made 0700 if it is not.
 */
async function ensureDirectory(dir: string, own: boolean): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw folderError(dir, error);
    }
    try {
      await Deno.mkdir(dir, { recursive: true, mode: DIR_MODE });
      // Check what is there now, not what mkdir was asked for: something
      // may have been put in its place meanwhile.
      info = await Deno.lstat(dir);
      // mkdir's mode went through the umask; chmod does not.
      if (info.isDirectory && Deno.build.os !== "windows") {
        await Deno.chmod(dir, DIR_MODE);
      }
    } catch (error) {
      throw folderError(dir, error);
    }
  }
  if (
    own && info.isDirectory && !info.isSymlink &&
    Deno.build.os !== "windows" && ((info.mode ?? 0) & 0o777) !== DIR_MODE
  ) {
    try {
      await Deno.chmod(dir, DIR_MODE);
    } catch (error) {
      throw folderError(dir, error);
    }
  }
  if (info.isSymlink) {
    // A planted link would send files wherever its owner likes; the user
    // can name the real folder instead.
    throw new SaveError(
      `Downloads folder '${dir}' is a symbolic link: choose the folder it points to or another one`,
    );
  }
  if (!info.isDirectory) {
    throw new SaveError(
      `Downloads folder '${dir}' is not a folder: move it away or choose another folder`,
    );
  }
}

function folderError(dir: string, error: unknown): SaveError {
  return new SaveError(
    `Cannot use downloads folder '${dir}': ${describeFolderError(error, dir)}`,
    { cause: error },
  );
}

/** Files being received, for what they will still take (#promisedIn). */
const receiving = new Set<IncomingFile>();

async function checkFreeSpace(
  dir: string,
  size: number,
  promised: number,
): Promise<void> {
  // statfs needs --allow-sys; asking for it would put a permission prompt in
  // the middle of the chat. Without it the check is skipped and a full disk
  // is still caught when a write fails.
  if (
    Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state !==
      "granted"
  ) {
    return;
  }
  let free: number;
  try {
    const stats = await statfs(dir);
    free = stats.bavail * stats.bsize;
  } catch {
    return;
  }
  const usable = Math.max(0, free - FREE_SPACE_MARGIN - promised);
  if (size > usable) {
    const [needed, available] = formatSizes(size, usable);
    throw new SaveError(
      promised > 0
        ? `Cannot accept the file: it is ${needed} but only ${available} can be used in '${dir}' beside the files being received there, free some space`
        : `Cannot accept the file: it is ${needed} but only ${available} can be used in '${dir}', free some space`,
    );
  }
}

/** Creates the first free `name.part`, `name (1).part`, … exclusively. */
async function createPart(
  dir: string,
  name: string,
): Promise<{ file: Deno.FsFile; path: string }> {
  for (let n = 0; n < MAX_NAME_ATTEMPTS; n++) {
    const path = join(dir, numberedName(name, n) + PART_SUFFIX);
    try {
      // createNew is O_CREAT|O_EXCL: it fails on any existing entry,
      // including a symlink, instead of following or truncating it.
      const file = await Deno.open(path, {
        write: true,
        createNew: true,
        mode: FILE_MODE,
      });
      // The mode above went through the umask; this does not. Exact 0600
      // before any byte is written.
      if (Deno.build.os !== "windows") {
        try {
          // Through the file opened, never a link swapped in meanwhile.
          await chmodOpenFile(file, path, FILE_MODE);
        } catch (error) {
          file.close();
          await Deno.remove(path).catch(() => {});
          throw error;
        }
      }
      return { file, path };
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      throw new SaveError(
        `Cannot create a file in '${dir}': ${describeFolderError(error, dir)}`,
        { cause: error },
      );
    }
  }
  throw new SaveError(
    `Cannot create a file in '${dir}': ${MAX_NAME_ATTEMPTS} unfinished downloads of '${name}' are in the way, remove the .part files`,
  );
}

/** Removes the partials folder once nothing is left in it. */
async function removeIfEmpty(dir: string): Promise<void> {
  // A non-recursive remove fails on a folder that is not empty.
  await Deno.remove(dir).catch(() => {});
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * A reason the user can act on, for an error from a file operation in the
 * downloads folder `dir`: named apart from fs/io_errors.ts describeIoError,
 * which speaks of one file the user named, not of a folder.
 */
function describeFolderError(error: unknown, dir: string): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOSPC") {
    return `the disk is full, free some space in '${dir}' and try again`;
  }
  if (code === "EDQUOT") return "your disk quota is used up";
  if (code === "EROFS") return `'${dir}' is on a read-only disk`;
  if (error instanceof Deno.errors.NotCapable) {
    return "chat was started without permission to write files (--allow-write)";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `permission denied, check that you can write to '${dir}'`;
  }
  if (error instanceof Deno.errors.NotFound) {
    return `'${dir}' or a file in it disappeared`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Both sizes for a message comparing them; in bytes if rounding would make
 * them look equal ("2.0 KiB is over the 2.0 KiB limit").
 */
function formatSizes(a: number, b: number): [string, string] {
  const [x, y] = [formatBytes(a), formatBytes(b)];
  return x === y ? [`${a} bytes`, `${b} bytes`] : [x, y];
}

function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (bytes < 1024) return `${bytes} bytes`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
