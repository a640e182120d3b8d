/**
 * The ignore list on disk: `<config folder>/ignored`, mode 0600 in a 0700
 * folder, written atomically (private_paths.ts). The format is in
 * ignore_list.ts. Re-read before each change, so what another client added
 * meanwhile stays.
 */

import { join } from "node:path";
import { defaultConfigDir } from "../crypto/identity_files.ts";
import { writePrivateFileAtomically } from "../fs/private_paths.ts";
import {
  addIgnoreEntry,
  type IgnoreEntry,
  IgnoreList,
  parseIgnoreFile,
  removeIgnoreEntries,
} from "./ignore_list.ts";
import { oneAtATime } from "./one_at_a_time.ts";

const FILE_NAME = "ignored";
/** No ignore list comes near this; anything larger is the wrong file. */
const MAX_BYTES = 1024 * 1024;

/** `<config folder>/ignored`, or null when there is no config folder (no $HOME). */
export function defaultIgnorePath(): string | null {
  try {
    return join(defaultConfigDir(), FILE_NAME);
  } catch {
    return null;
  }
}

/** One server's ignore list, kept in `path` (null: for this session only). */
export class IgnoreFile {
  /** Each change re-reads and rewrites the file: one at a time. */
  readonly #inTurn = oneAtATime();

  private constructor(
    readonly path: string | null,
    readonly list: IgnoreList,
  ) {}

  /**
   * The list for the server whose key is `server`, from `path` (a missing
   * file is an empty list).
   *
   * @throws {Error} with a message for the user if the file cannot be read
   */
  static async load(path: string | null, server: string): Promise<IgnoreFile> {
    const text = path === null ? "" : await readText(path) ?? "";
    return new IgnoreFile(path, new IgnoreList(server, parseIgnoreFile(text)));
  }

  /**
   * Ignores a user from now on and saves the file.
   *
   * @throws {Error} with a message for the user if the file cannot be
   *   written; the user stays ignored for this session
   */
  async add(entry: Omit<IgnoreEntry, "server">): Promise<void> {
    const full = this.list.add(entry);
    const path = this.path;
    if (path === null) return;
    await this.#inTurn(async () =>
      save(path, addIgnoreEntry(await readText(path) ?? "", full))
    );
  }

  /** Stops ignoring `name` (and its key); returns how many entries went. */
  async remove(name: string, fingerprint: string | null): Promise<number> {
    const removed = this.list.remove(name, fingerprint);
    const path = this.path;
    if (path === null) return removed;
    await this.#inTurn(async () => {
      const text = await readText(path);
      if (text === null) return;
      await save(
        path,
        removeIgnoreEntries(text, this.list.server, name, fingerprint),
      );
    });
    return removed;
  }
}

async function readText(path: string): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > MAX_BYTES) {
      throw new Error(
        `Cannot read the ignore list '${path}': not a small text file; move it away`,
      );
    }
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error instanceof Deno.errors.PermissionDenied
      ? new Error(`Cannot read the ignore list '${path}': permission denied`)
      : error;
  }
}

async function save(path: string, text: string): Promise<void> {
  try {
    await writePrivateFileAtomically(path, text);
  } catch (error) {
    throw new Error(
      `Cannot save the ignore list '${path}': ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}
