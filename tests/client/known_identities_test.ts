import assert from "node:assert/strict";
import { join } from "node:path";
import {
  identityChangeWarning,
  KnownIdentities,
  parseKnownIdentities,
  setKnownIdentity,
} from "../../src/client/known_identities.ts";
import { loadKnownIdentities } from "../../src/client/known_identities_file.ts";
import { memorySlot } from "../../src/client/text_slot.ts";

const SERVER = "SHA256:" + "s".repeat(43);
const OTHER_SERVER = "SHA256:" + "o".repeat(43);
const KEY_A = "SHA256:" + "a".repeat(43);
const KEY_B = "SHA256:" + "b".repeat(43);

Deno.test("KnownIdentities.check (in a file: loadKnownIdentities) remembers the first key and flags a change without taking it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-known-identities-" });
  try {
    const path = join(dir, "config", "known_identities");
    const known = await loadKnownIdentities(path);
    assert.deepEqual(await known.check(SERVER, "Sophia", KEY_A), {
      kind: "first",
    });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(await known.check(SERVER, "sophia", KEY_A), {
      kind: "same",
    });
    assert.deepEqual(await known.check(SERVER, "SOPHIA", KEY_B), {
      kind: "changed",
      previous: KEY_A,
    });
    // Still the old key until accepted, also after a restart.
    const again = await loadKnownIdentities(path);
    assert.deepEqual(await again.check(SERVER, "sophia", KEY_B), {
      kind: "changed",
      previous: KEY_A,
    });
    // Per server: the same name elsewhere is someone else.
    assert.deepEqual(await again.check(OTHER_SERVER, "sophia", KEY_B), {
      kind: "first",
    });
    await again.accept(SERVER, "sophia", KEY_B);
    const after = await loadKnownIdentities(path);
    assert.deepEqual(await after.check(SERVER, "sophia", KEY_B), {
      kind: "same",
    });
    const text = await Deno.readTextFile(path);
    assert.equal(
      text.split("\n").filter((l) => l.includes(" sophia ")).length,
      2,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setKnownIdentity keeps lines it does not understand and replaces the name's line", () => {
  const text =
    `# mine\nnot a line\n${SERVER} sophia ${KEY_A}\n${OTHER_SERVER} sophia ${KEY_A}\n`;
  const next = setKnownIdentity(text, SERVER, "Sophia", KEY_B);
  assert.equal(
    next,
    `# mine\nnot a line\n${OTHER_SERVER} sophia ${KEY_A}\n${SERVER} sophia ${KEY_B}\n`,
  );
  assert.deepEqual(
    parseKnownIdentities(next, SERVER),
    new Map([["sophia", KEY_B]]),
  );
  assert.throws(
    () => setKnownIdentity("", SERVER, "so phia", KEY_A),
    TypeError,
  );
  assert.throws(() => setKnownIdentity("", SERVER, "sophia", "x"), TypeError);
});

Deno.test("identityChangeWarning names both keys and says messages are held", () => {
  const lines = identityChangeWarning("sophia", KEY_A, KEY_B);
  assert.match(lines[0]!, /^WARNING: sophia's identity key has changed!$/);
  assert.ok(lines.some((l) => l.includes(KEY_A)));
  assert.ok(lines.some((l) => l.includes(KEY_B)));
  assert.ok(lines.some((l) => l.includes("held")));
});

Deno.test("KnownIdentities.inMemory works without a file", async () => {
  const known = KnownIdentities.inMemory();
  assert.equal((await known.check(SERVER, "jojo", KEY_A)).kind, "first");
  assert.equal((await known.check(SERVER, "jojo", KEY_B)).kind, "changed");
});

Deno.test("KnownIdentities: keys accepted at once all reach the file and stay known in memory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "identities");
    const known = await loadKnownIdentities(path);
    const names = ["ann", "ben", "cy", "dee"];
    await Promise.all(
      names.map((name, i) => known.accept(SERVER, name, i % 2 ? KEY_A : KEY_B)),
    );
    const again = await loadKnownIdentities(path);
    names.forEach((name, i) => {
      const key = i % 2 ? KEY_A : KEY_B;
      assert.equal(again.known(SERVER, name), key, `${name} lost in the file`);
      assert.equal(known.known(SERVER, name), key, `${name} lost in memory`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KnownIdentities keeps every key it accepted in memory while an earlier save waits and after a save failed, and writes a failed one with the next", async () => {
  let kept: string | null = null;
  let failNext = false;
  const writing = Promise.withResolvers<void>();
  let hold: Promise<void> | null = null;
  const known = await KnownIdentities.load({
    where: "test",
    read: () => Promise.resolve(kept),
    write: async (text) => {
      if (hold !== null) {
        writing.resolve();
        await hold;
      }
      if (failNext) {
        failNext = false;
        throw new Error("disk full");
      }
      kept = text;
    },
  });
  const release = Promise.withResolvers<void>();
  hold = release.promise;
  const first = known.accept(SERVER, "ann", KEY_A);
  await writing.promise;
  const second = known.accept(SERVER, "ben", KEY_B);
  assert.equal(known.known(SERVER, "ann"), KEY_A);
  assert.equal(known.known(SERVER, "ben"), KEY_B);
  hold = null;
  failNext = true;
  release.resolve();
  await assert.rejects(first, /Cannot save known identities test: disk full/);
  await second;
  // ann's save failed; ben's, after it, wrote both.
  for (const [name, key] of [["ann", KEY_A], ["ben", KEY_B]] as const) {
    assert.equal(known.known(SERVER, name), key, `${name} lost in memory`);
    assert.equal(parseKnownIdentities(kept ?? "", SERVER).get(name), key);
  }
});

Deno.test("KnownIdentities: a key this session wrote is not written back over another client's later /trust", async () => {
  let kept: string | null = null;
  const slot = {
    where: "test",
    read: () => Promise.resolve(kept),
    write: (text: string) => {
      kept = text;
      return Promise.resolve();
    },
  };
  const a = await KnownIdentities.load(slot);
  await a.accept(SERVER, "bob", KEY_A);
  // Another client with the same folder trusts bob's new key.
  const b = await KnownIdentities.load(slot);
  await b.accept(SERVER, "bob", KEY_B);
  // The first saves another key.
  await a.accept(SERVER, "carol", KEY_A);
  assert.equal(parseKnownIdentities(kept ?? "", SERVER).get("bob"), KEY_B);
  assert.equal(a.known(SERVER, "bob"), KEY_B);
});

Deno.test("KnownIdentities.check: another client's first sight, or /trust, in the same folder since this one read it counts; a key seen first here never replaces it", async () => {
  const slot = memorySlot("test");
  // Two clients from one config folder (one OS account, two names), both
  // reading the list before either has seen bob.
  const a = await KnownIdentities.load(slot);
  const b = await KnownIdentities.load(slot);
  assert.deepEqual(await a.check(SERVER, "bob", KEY_A), { kind: "first" });
  // b meets another key for bob: a change, announced, not a first sight.
  assert.deepEqual(await b.check(SERVER, "Bob", KEY_B), {
    kind: "changed",
    previous: KEY_A,
  });
  assert.equal(
    parseKnownIdentities(await slot.read() ?? "", SERVER).get("bob"),
    KEY_A,
  );
  // b takes it (/trust): a, which still had the old one, goes with it.
  await b.accept(SERVER, "bob", KEY_B);
  assert.deepEqual(await a.check(SERVER, "bob", KEY_B), { kind: "same" });
  assert.equal(a.known(SERVER, "bob"), KEY_B);
  // …and a's next save keeps it.
  await a.accept(SERVER, "carol", KEY_A);
  assert.equal(
    parseKnownIdentities(await slot.read() ?? "", SERVER).get("bob"),
    KEY_B,
  );
});
