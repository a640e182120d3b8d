// This module is browser compatible.

/**
 * Tab completion beyond names (commands.ts): a file path after
 * `/file NAME ` and `/groupfile GROUP `, as a shell completes it. Pure: the
 * folder listing is passed in (the terminal reads the disk).
 *
 * @module
 */

import { completeInput, type CompletionContext } from "./commands.ts";

/** One entry of a folder, as the completer needs it. */
export interface PathEntry {
  name: string;
  isDirectory: boolean;
}

/** Lists a folder; may throw (no such folder, no permission): then nothing completes. */
export type ListFolder = (path: string) => PathEntry[];

/** The path typed after `/file NAME ` or `/groupfile GROUP `, or null if the line is not there yet. */
export function pathArgument(line: string): string | null {
  const match = /^\s*\/(?:file|groupfile)\s+\S+\s+(.*)$/i.exec(line);
  return match === null ? null : match[1]!;
}

/**
 * Completes `partial`, a path, in the node:readline completer format: the
 * paths that start with it (folders with a trailing `/`), and `partial`
 * itself as the text they replace. `~/` is the home folder `home`. Hidden
 * entries only when the name typed starts with a dot.
 */
export function completePath(
  partial: string,
  list: ListFolder,
  home: string | null,
): [string[], string] {
  const slash = partial.lastIndexOf("/");
  const folder = slash < 0 ? "" : partial.slice(0, slash + 1);
  const base = partial.slice(slash + 1);
  let listed = folder === "" ? "." : folder;
  if (home !== null && (listed === "~/" || listed.startsWith("~/"))) {
    listed = home + listed.slice(1);
  }
  let entries: PathEntry[];
  try {
    entries = list(listed);
  } catch {
    return [[], partial];
  }
  const hits = entries
    .filter((e) =>
      e.name.startsWith(base) &&
      (base.startsWith(".") || !e.name.startsWith("."))
    )
    .map((e) => folder + e.name + (e.isDirectory ? "/" : ""))
    .sort();
  return [hits, partial];
}

/**
 * Completes an input line: a path after `/file NAME ` and `/groupfile GROUP `,
 * otherwise command, user and group names (commands.ts).
 */
export function completeLine(
  line: string,
  context: CompletionContext,
  list: ListFolder,
  home: string | null,
): [string[], string] {
  const path = pathArgument(line);
  if (path !== null) return completePath(path, list, home);
  return completeInput(line, context);
}
