/**
 * What a first-seen name costs the client's list of identity keys
 * (src/client/known_identities.ts): the CPU time (user + system) per name
 * of N names first met on one server, each looked up as E2eSessions does
 * when it first meets a key (`known`, `lookalikeOf`, then `check`), with
 * the in-memory list (no config folder) and the file-backed one
 * (known_identities_file.ts, in a temporary folder).
 *
 *     deno run --allow-read --allow-write --allow-sys=statfs bench/known_identities_cost.ts \
 *       [--names 500,2000,5000,20000] [--lists memory,file]
 *
 * 20,000 names is past MAX_KNOWN_PER_SERVER: the names past it are refused
 * (IdentityRefused), as a host inventing people gets; they are counted too.
 *
 * Not part of `deno task bench`.
 */

import process from "node:process";
import { join } from "node:path";
import {
  IdentityRefused,
  KnownIdentities,
} from "../src/client/known_identities.ts";
import { loadKnownIdentities } from "../src/client/known_identities_file.ts";

const SERVER = "SHA256:" + "s".repeat(43);

/** The fingerprint of the i-th invented person (43 base64 characters). */
function fingerprint(i: number): string {
  return "SHA256:" + i.toString(36).padStart(43, "k");
}

/**
 * The i-th invented name: in letters that neither fold nor expand in a
 * skeleton (protocol/name_skeleton.ts), so no two look alike.
 */
function name(i: number): string {
  const letters = "abefghjkpqstuxyz";
  let text = "";
  do {
    text += letters[i % letters.length];
    i = Math.floor(i / letters.length);
  } while (i > 0);
  return "p" + text;
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function run(
  known: KnownIdentities,
  count: number,
): Promise<{ ms: number; refused: number; lookalikes: number }> {
  let refused = 0;
  let lookalikes = 0;
  const start = cpuMs();
  for (let i = 0; i < count; i++) {
    const who = name(i);
    const key = fingerprint(i);
    if (known.known(SERVER, who) !== null) throw new Error(`${who} known`);
    if (known.lookalikeOf(SERVER, who, key) !== null) lookalikes++;
    try {
      const check = await known.check(SERVER, who, key);
      if (check.kind !== "first") throw new Error(`${who}: ${check.kind}`);
    } catch (error) {
      if (!(error instanceof IdentityRefused)) throw error;
      refused++;
    }
  }
  return { ms: cpuMs() - start, refused, lookalikes };
}

const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
};
const counts = flag("--names", "500,2000,5000,20000").split(",").map(Number);
const lists = flag("--lists", "memory,file").split(",");

console.log("list    names  refused  CPU s  CPU us/name");
for (const list of lists) {
  for (const count of counts) {
    const dir = await Deno.makeTempDir();
    try {
      const known = list === "memory"
        ? KnownIdentities.inMemory()
        : await loadKnownIdentities(join(dir, "known_identities"));
      const { ms, refused, lookalikes } = await run(known, count);
      if (lookalikes !== 0) throw new Error(`${lookalikes} look-alikes`);
      console.log(
        `${list.padEnd(6)} ${String(count).padStart(6)} ${
          String(refused).padStart(8)
        } ${(ms / 1000).toFixed(2).padStart(6)} ${
          (ms * 1000 / count).toFixed(0).padStart(12)
        }`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
}
