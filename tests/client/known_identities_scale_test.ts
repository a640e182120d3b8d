import assert from "node:assert/strict";
import process from "node:process";
import {
  IdentityRefused,
  KnownIdentities,
  MAX_KNOWN_PER_SERVER,
} from "../../src/client/known_identities.ts";
import { memorySlot, type TextSlot } from "../../src/client/text_slot.ts";

// A host inventing people, or a lecture hall over a term: each first-seen
// name must cost about the same however many the list holds. Each test
// stops as soon as its CPU budget is spent; before the list grew a line at
// a time they spent it many times over (minutes in memory at 10,000 names:
// the whole list rewritten and parsed, and its look-alikes sorted again,
// for each name).

const SERVER = "SHA256:" + "s".repeat(43);
const HOST_KEY = "SHA256:" + "h".repeat(43);

/** The i-th invented person's key. */
function fingerprint(i: number): string {
  return "SHA256:" + i.toString(36).padStart(43, "k");
}

/**
 * The i-th invented name, in letters that neither fold nor expand in a
 * skeleton (protocol/name_skeleton.ts): no two look alike.
 */
function name(i: number): string {
  const letters = "abefghjkpqstuxyz";
  let text = "p";
  do {
    text += letters[i % letters.length];
    i = Math.floor(i / letters.length);
  } while (i > 0);
  return text;
}

/** CPU time (user + system) of this process, in seconds. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Meets `count` new names, each with a key of its own, as E2eSessions does
 * (`known`, `lookalikeOf`, then `check`); fails once `budget` CPU seconds
 * are spent. Returns how many were refused (past MAX_KNOWN_PER_SERVER).
 */
async function meetNames(
  known: KnownIdentities,
  count: number,
  budget: number,
): Promise<number> {
  const start = cpuSeconds();
  let refused = 0;
  for (let i = 0; i < count; i++) {
    const who = name(i);
    const key = fingerprint(i);
    assert.equal(known.known(SERVER, who), null);
    assert.equal(known.lookalikeOf(SERVER, who, key), null);
    try {
      assert.deepEqual(await known.check(SERVER, who, key), { kind: "first" });
    } catch (error) {
      if (!(error instanceof IdentityRefused)) throw error;
      refused++;
    }
    if (i % 500 === 499) {
      const spent = cpuSeconds() - start;
      assert.ok(
        spent < budget,
        `${spent.toFixed(1)} s of CPU for the first ${
          i + 1
        } names (budget ${budget} s)`,
      );
    }
  }
  return refused;
}

Deno.test("KnownIdentities in memory takes 20,000 first-seen names in a few seconds of CPU (10,000 kept, the rest refused)", async () => {
  const known = KnownIdentities.inMemory();
  // About 0.2 s when each name costs the same.
  const refused = await meetNames(known, 20_000, 5);
  assert.equal(refused, 20_000 - MAX_KNOWN_PER_SERVER);
  assert.equal(known.known(SERVER, name(0)), fingerprint(0));
  assert.equal(
    known.known(SERVER, name(MAX_KNOWN_PER_SERVER - 1)),
    fingerprint(MAX_KNOWN_PER_SERVER - 1),
  );
  assert.equal(known.known(SERVER, name(MAX_KNOWN_PER_SERVER)), null);
});

Deno.test("KnownIdentities in a slot that appends (the web page's, a file's) takes 10,000 first-seen names in a few seconds of CPU, each added at the end", async () => {
  let appends = 0;
  let writes = 0;
  const kept = memorySlot("test slot");
  const slot: TextSlot = {
    where: kept.where,
    read: kept.read,
    write: (text) => {
      writes++;
      return kept.write(text);
    },
    append: async (addition, whole) => {
      appends++;
      // Not compared with `whole`'s end: that would copy the whole list.
      assert.ok(addition.endsWith("\n"));
      await kept.write(whole);
    },
    exclusively: (work) => work(),
  };
  const known = await KnownIdentities.load(slot);
  // About 0.3 s when each name costs the same.
  assert.equal(await meetNames(known, MAX_KNOWN_PER_SERVER, 5), 0);
  // The first written whole (there was no list), every other appended.
  assert.equal(writes, 1);
  assert.equal(appends, MAX_KNOWN_PER_SERVER - 1);
  const text = await slot.read() ?? "";
  const again = await KnownIdentities.load(memorySlot("again", text));
  assert.equal(again.known(SERVER, name(0)), fingerprint(0));
  assert.equal(
    again.known(SERVER, name(MAX_KNOWN_PER_SERVER - 1)),
    fingerprint(MAX_KNOWN_PER_SERVER - 1),
  );
});

Deno.test("KnownIdentities.lookalikeOf costs the same however many look-alikes one key holds", async () => {
  // 3^9 names that all read `xlllllllll` (`i`, `l`, `1` in every order):
  // a host binds half to one key, then sends the others under it.
  const alike: string[] = [];
  for (let i = 0; i < 3 ** 9; i++) {
    let text = "x";
    for (let rest = i, at = 0; at < 9; at++, rest = Math.floor(rest / 3)) {
      text += "il1"[rest % 3];
    }
    alike.push(text);
  }
  const half = Math.floor(alike.length / 2);
  const text = alike.slice(0, half).map((who) =>
    `${SERVER} ${who} ${HOST_KEY}\n`
  ).join("");
  const known = await KnownIdentities.load(memorySlot("list", text));
  assert.equal(known.lookalikeOf(SERVER, alike[half]!, HOST_KEY), null);
  const start = cpuSeconds();
  for (const who of alike.slice(half)) {
    assert.equal(known.lookalikeOf(SERVER, who, HOST_KEY), null);
  }
  const spent = cpuSeconds() - start;
  // About 0.05 s when each look costs the same; ~10,000 comparisons each
  // when every name of the skeleton was looked at.
  assert.ok(
    spent < 0.5,
    `${spent.toFixed(2)} s of CPU for ${alike.length - half} looks`,
  );
  // Another key's look-alike is still found.
  assert.equal(
    known.lookalikeOf(SERVER, alike[half]!, fingerprint(1)),
    alike[0],
  );
});
