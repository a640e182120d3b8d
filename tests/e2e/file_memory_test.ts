/**
 * Memory stays flat while a large file goes through: server, sender and
 * receiver as the real `main.ts` processes users run, their resident memory
 * read from /proc while 256 MiB pass.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";

const FILE_BYTES = 256 * 1024 * 1024;
/**
 * Peak growth allowed per process. Measured 16–25 MiB per process (1 GiB
 * gives the same); before dead buffers were freed eagerly the server and the
 * sender each grew by ~80 MiB, and buffering a whole file would be 256+.
 */
const MAX_GROWTH_MIB = 40;
/**
 * The server's: its WebSocket edge is npm `ws` on node:net (src/server/
 * ws_edge.ts), whose 64 KiB read buffers were JavaScript garbage until the
 * next collection (50-53 MiB of growth); since they are freed once `ws` is
 * done with them (ws_read_release.ts) it grows 0-12 MiB in the bench's 256
 * MiB runs, and this is the clients' bound.
 */
const MAX_SERVER_GROWTH_MIB = MAX_GROWTH_MIB;

/**
 * Resident memory of each process, from /proc. Read through `cat`: Deno
 * lets only a process with --allow-all read another process's /proc entry.
 */
async function residentKiB(pids: number[]): Promise<(number | null)[]> {
  const { stdout } = await new Deno.Command("cat", {
    args: pids.map((pid) => `/proc/${pid}/status`),
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(stdout);
  // One "Pid:" line per status file, followed by its VmRSS line.
  const rss = new Map<number, number>();
  for (
    const match of text.matchAll(/^Pid:\s+(\d+)[\s\S]*?^VmRSS:\s+(\d+) kB/gm)
  ) {
    rss.set(Number(match[1]), Number(match[2]));
  }
  return pids.map((pid) => rss.get(pid) ?? null);
}

/**
 * Minor page faults of each process so far (field 10 of /proc/PID/stat),
 * through `cat` as above.
 */
async function minorFaults(pids: number[]): Promise<(number | null)[]> {
  const { stdout } = await new Deno.Command("cat", {
    args: pids.map((pid) => `/proc/${pid}/stat`),
    stderr: "null",
  }).output();
  const faults = new Map<number, number>();
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    // The command name may hold spaces and parentheses: split after the last ')'.
    const fields = line.slice(line.lastIndexOf(")") + 2).split(" ");
    if (fields.length > 8) {
      faults.set(Number(line.split(" ")[0]), Number(fields[7]));
    }
  }
  return pids.map((pid) => faults.get(pid) ?? null);
}

/**
 * Minor page faults allowed per MiB received, server and receiver. With
 * malloc keeping freed memory (src/server/memory_trim.ts) they took 4-11
 * per MiB in the bench's runs; without it the receiver took 38-62, every
 * 128 KiB chunk landing in fresh pages.
 */
const MAX_FAULTS_PER_MIB = 25;

async function writeTestFile(path: string): Promise<string> {
  const block = new Uint8Array(1024 * 1024);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let i = 65536; i < block.length; i += 65536) {
    block.copyWithin(i, 0, 65536);
  }
  const hash = createHash("sha256");
  using file = await Deno.open(path, { write: true, create: true });
  for (let written = 0; written < FILE_BYTES; written += block.length) {
    // Each MiB differs from the others, so a misplaced chunk shows.
    new DataView(block.buffer).setUint32(0, written);
    hash.update(block);
    let offset = 0;
    while (offset < block.length) {
      offset += await file.write(block.subarray(offset));
    }
  }
  return hash.digest("hex");
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

Deno.test({
  name:
    "a 256 MiB file through server, sender and receiver processes raises none of their memory by more than 40 MiB, and server and receiver reuse their freed chunks' pages",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-file-memory-" });
    let server: ChatProcess | null = null;
    const clients: ChatProcess[] = [];
    try {
      const [expected] = await Promise.all([
        writeTestFile(`${dir}/big.bin`),
        makeKeys(`${dir}/keys`),
      ]);
      server = serveProcess(`${dir}/keys`);
      const port = await listeningPort(server);
      const connect = (user: string, ...extra: string[]) =>
        new ChatProcess([
          "connect",
          `127.0.0.1:${port}`,
          "--pub",
          `${dir}/keys/public.pem`,
          "--user",
          user,
          ...extra,
        ]);
      const jojo = connect(
        "jojo",
        "--downloads",
        `${dir}/dl`,
        "--no-open",
        "--accept-files",
        "all",
      );
      clients.push(jojo);
      await jojo.waitFor(/SUCCESS: Username registered\./);
      const sophia = connect("sophia");
      clients.push(sophia);
      await sophia.waitFor(/SUCCESS: Username registered\./);

      const roles = ["server", "sender", "receiver"];
      const pids = [server, sophia, jojo].map((p) => p.child.pid);
      const idle = await residentKiB(pids);
      idle.forEach((rss, i) =>
        assert.ok(rss !== null, `no /proc entry for the ${roles[i]}`)
      );
      const faultsBefore = await minorFaults(pids);
      const peak = [...idle] as number[];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          (await residentKiB(pids)).forEach((rss, i) => {
            if (rss !== null && rss > peak[i]!) peak[i] = rss;
          });
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();

      await sophia.write(`/file jojo ${dir}/big.bin\n`);
      await sophia.waitFor(/File big\.bin sent to jojo successfully\./, 60_000);
      await jojo.waitFor(/You received file big\.bin from sophia\./);
      sampling = false;
      await sampler;
      const faultsAfter = await minorFaults(pids);

      assert.equal(await sha256Of(`${dir}/dl/big.bin`), expected);
      const growth = roles.map((role, i) =>
        [role, (peak[i]! - idle[i]!) / 1024] as const
      );
      const report = growth.map(([role, mib]) => `${role} +${mib.toFixed(1)}`)
        .join(", ");
      for (const [role, mib] of growth) {
        assert.ok(
          mib <= (role === "server" ? MAX_SERVER_GROWTH_MIB : MAX_GROWTH_MIB),
          `the ${role} grew by ${mib.toFixed(1)} MiB (${report} MiB)`,
        );
      }
      const perMib = roles.map((role, i) =>
        [
          role,
          (faultsAfter[i]! - faultsBefore[i]!) / (FILE_BYTES / 1024 / 1024),
        ] as const
      );
      const faults = perMib.map(([role, n]) => `${role} ${n.toFixed(1)}`)
        .join(", ");
      for (const [role, n] of perMib) {
        // The sender's faults come from reading the file, not from chunks.
        if (role === "sender") continue;
        assert.ok(
          n <= MAX_FAULTS_PER_MIB,
          `the ${role} took ${n.toFixed(1)} minor faults per MiB (${faults})`,
        );
      }
    } finally {
      for (const client of clients) client.kill("SIGKILL");
      for (const client of clients) await client.finish();
      server?.kill("SIGKILL");
      await server?.finish();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
