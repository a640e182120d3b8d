import assert from "node:assert/strict";

/**
 * The resident memory of process `pid` now, in bytes (Linux), read through
 * `cat`: Deno lets only a process with --allow-all read another process's
 * /proc entry.
 */
export async function residentBytes(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/status`],
    stderr: "null",
  }).output();
  const status = new TextDecoder().decode(stdout);
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  assert.ok(kib !== null, `no VmRSS in /proc/${pid}/status:\n${status}`);
  return Number(kib[1]) * 1024;
}
