// This module is browser compatible.

/**
 * What `/ignore` and `/unignore` answer, for the terminal session and the
 * web page alike (they keep the list in different places: `where` says
 * which).
 *
 * @module
 */

import type { IgnoreEntry } from "./ignore_list.ts";

export const CANNOT_IGNORE_SELF = "ERROR: You cannot ignore yourself";

/** `/ignore` alone: who is ignored, and how. */
export function ignoredLines(entries: readonly IgnoreEntry[]): string[] {
  if (entries.length === 0) return ["You are not ignoring anyone"];
  return [
    "Ignored:",
    ...entries.map((e) =>
      `  ${e.name} ${
        e.fingerprint === null ? "(by name)" : `(key ${e.fingerprint})`
      }`
    ),
  ];
}

/**
 * `/ignore NAME` done: `shown` is ignored by its key when known, else by
 * name; `where` says where the list is kept.
 */
export function ignoringText(
  shown: string,
  key: string | null,
  where: string,
): string {
  return key === null
    ? `Ignoring ${shown} by name (their key is not known: they are not online): their messages are not shown (${where}). /unignore ${shown} to see them again`
    : `Ignoring ${shown} (key ${key}): their messages are not shown, under any name (${where}). /unignore ${shown} to see them again`;
}

/** `/unignore NAME`, after `removed` entries went. */
export function unignoredText(name: string, removed: number): string {
  return removed > 0
    ? `${name}'s messages are shown again`
    : `ERROR: You are not ignoring ${name}`;
}
