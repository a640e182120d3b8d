/**
 * Run by save_test.ts under a shell's umask: receives one file into the
 * folder given and prints the modes of the folder, the .part and the file.
 */

import { createHash } from "node:crypto";
import { IncomingFile } from "../../src/files/save.ts";

const dir = Deno.args[0]!;
const bytes = new TextEncoder().encode("abc");
const file = await IncomingFile.create(dir, "a.txt", bytes.length, {
  maxBytes: 1024,
});
const modeOf = async (path: string) => (await Deno.stat(path)).mode! & 0o777;
const folder = await modeOf(dir);
const part = await modeOf(file.partPath);
await file.write(bytes);
const saved = await file.finish(
  createHash("sha256").update(bytes).digest("hex"),
);
console.log(JSON.stringify({ folder, part, saved: await modeOf(saved.path) }));
