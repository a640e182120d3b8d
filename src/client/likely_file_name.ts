/**
 * "Did you mean notes.txt?" after `/file jojo notse.txt`: the one file in
 * the folder named whose name is a slip away from the one typed (as
 * did_you_mean.ts measures). Only that one name is ever said: never a list
 * of what the folder holds, nor a guess between several.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { onlyOneClose } from "./did_you_mean.ts";

/**
 * A folder with more entries than this is not searched: a typo in a huge
 * folder is not worth reading all of it (and no hint is better than a slow
 * error).
 */
export const MAX_ENTRIES_SEARCHED = 2000;

/**
 * The name of the one regular file beside `path` (which was not found)
 * close enough to its name to be a slip, or null: none, several, the folder
 * unreadable or larger than MAX_ENTRIES_SEARCHED. A hidden file (`.env`,
 * `.notes.txt`) is named only when the name typed starts with a dot too:
 * dotfiles are where secrets live, and a typo must neither tell whoever
 * reads the screen that one is there nor lead the user into sending it.
 */
export async function likelyFileName(path: string): Promise<string | null> {
  const typed = basename(path);
  if (typed === "") return null;
  const folder = dirname(path);
  const names: string[] = [];
  let seen = 0;
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (++seen > MAX_ENTRIES_SEARCHED) return null;
      if (!entry.isFile && !entry.isSymlink) continue;
      if (entry.name.startsWith(".") && !typed.startsWith(".")) continue;
      // A link counts as what it leads to: one to a folder, or to nothing,
      // named "Did you mean ...?" was a hint that the next /file refused.
      if (entry.isSymlink && !(await leadsToFile(join(folder, entry.name)))) {
        continue;
      }
      names.push(entry.name);
    }
  } catch {
    // No folder there, or not readable: no hint, the error says enough.
    return null;
  }
  return onlyOneClose(typed, names.filter((name) => name !== typed));
}

/** Whether the link at `path` leads to a regular file (false: broken). */
async function leadsToFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
