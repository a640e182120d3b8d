/**
 * The terminal's implementation of the storage port (text_slot.ts): a file,
 * read only if it is a small regular file, written atomically with mode
 * 0600 in a 0700 folder (fs/private_paths.ts).
 *
 * @module
 */

import { writePrivateFileAtomically } from "../fs/private_paths.ts";
import type { TextSlot } from "./text_slot.ts";

/**
 * The file at `path`, holding `what` (for messages: "end-to-end keys"), at
 * most `maxBytes` long: anything larger is the wrong file.
 */
export function fileSlot(
  path: string,
  what: string,
  maxBytes: number,
  { durable = false }: { durable?: boolean } = {},
): TextSlot {
  return {
    where: `'${path}'`,
    async read() {
      try {
        const info = await Deno.stat(path);
        if (!info.isFile || info.size > maxBytes) {
          throw new Error(
            `Cannot read ${what} '${path}': not a small file; move it away`,
          );
        }
        return await Deno.readTextFile(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error instanceof Deno.errors.PermissionDenied
          ? new Error(`Cannot read ${what} '${path}': permission denied`)
          : error;
      }
    },
    // Durable: synced with its folder before the write resolves.
    write: (text) => writePrivateFileAtomically(path, text, { durable }),
  };
}
