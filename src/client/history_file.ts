/**
 * The input history on disk, one file per server (by the server's key, so
 * two servers at one address do not share it): `<config folder>/history/
 * <server key>`, mode 0600 in a 0700 folder, rewritten atomically after each
 * line (private_paths.ts). What is kept is decided in line_history.ts.
 */

import { join } from "node:path";
import { writePrivateFileAtomically } from "../fs/private_paths.ts";
import {
  addToHistory,
  formatHistory,
  MAX_HISTORY_LINES,
  parseHistory,
} from "./line_history.ts";

/** A file larger than this is not a history file: start afresh rather than read it. */
const MAX_BYTES = 4 * 1024 * 1024;

/** The history file for the server whose key fingerprint is `serverKey`. */
export function historyPath(configDir: string, serverKey: string): string {
  // A file name of the fingerprint's base64, made safe for every file system.
  const name = serverKey.replace(/^SHA256:/, "").replace(/\//g, "_")
    .replace(/\+/g, "-").replace(/=+$/, "");
  return join(configDir, "history", name);
}

export class HistoryFile {
  #lines: string[];
  #saving: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    lines: string[],
    readonly cap: number,
  ) {
    this.#lines = lines;
  }

  /**
   * The history in `path` (a missing file is an empty history).
   *
   * @throws {Error} with a message for the user if it cannot be read
   */
  static async load(
    path: string,
    cap = MAX_HISTORY_LINES,
  ): Promise<HistoryFile> {
    let text = "";
    try {
      const info = await Deno.stat(path);
      if (info.isFile && info.size <= MAX_BYTES) {
        text = await Deno.readTextFile(path);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new Error(
          `Cannot read the input history '${path}': ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
    }
    return new HistoryFile(path, parseHistory(text, cap), cap);
  }

  /** Oldest first. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /**
   * Adds `line` (if it may be kept) and saves the file; resolves when saved.
   * Saves run one after another, so the file always ends with the last.
   *
   * @throws {Error} with a message for the user if it cannot be written
   */
  add(line: string): Promise<void> {
    const next = addToHistory(this.#lines, line, this.cap);
    if (
      next.length === this.#lines.length &&
      next.every((l, i) => l === this.#lines[i])
    ) return this.#saving;
    this.#lines = next;
    const text = formatHistory(next);
    const save = this.#saving.catch(() => {}).then(() =>
      writePrivateFileAtomically(this.path, text).catch((error) => {
        throw new Error(
          `Cannot save the input history '${this.path}': ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      })
    );
    this.#saving = save;
    return save;
  }
}
