/**
 * What a folder holds on disk, as one string: tests look in a server's data
 * folder (the database and its WAL) for plaintexts it must not hold.
 */

import { join } from "node:path";

/** Every file under `path`, as text (latin1: every byte a char), joined. */
export async function allBytes(path: string): Promise<string> {
  let out = "";
  for await (const entry of Deno.readDir(path)) {
    const full = join(path, entry.name);
    if (entry.isFile) {
      out += new TextDecoder("latin1").decode(await Deno.readFile(full));
    } else if (entry.isDirectory) out += await allBytes(full);
  }
  return out;
}
