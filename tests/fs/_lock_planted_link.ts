/**
 * Run by file_lock_test.ts with -A: takes the lock `a.lock` in the folder
 * given while a link to `victim.txt` there is planted as the lock file just
 * before it is opened; prints what lockFile said and whether the victim was
 * made. A child with every permission: Deno 2.9.6 makes a file through a
 * link to nothing only then (given --allow-read and --allow-write, its open
 * refuses to), as `deno run -A main.ts connect` would.
 */

import { join } from "node:path";
import { lockFile } from "../../src/fs/file_lock.ts";
import { beforeOpening } from "../_helpers/before_opening.ts";

const dir = Deno.args[0]!;
const victim = join(dir, "victim.txt");
const path = join(dir, "a.lock");
let said: string;
{
  using planting = beforeOpening(path, () => Deno.symlink(victim, path));
  try {
    said = (await lockFile(path)).kind;
  } catch (error) {
    said = error instanceof Error ? error.message : String(error);
  }
  if (!planting.ran) said = "not planted";
}
let made = true;
try {
  await Deno.lstat(victim);
} catch {
  made = false;
}
console.log(JSON.stringify({ said, made }));
