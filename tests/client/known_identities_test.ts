import assert from "node:assert/strict";
import { join } from "node:path";
import {
  forgetServer,
  forgottenOn,
  identityChangeWarning,
  type IdentityCheck,
  KnownIdentities,
  MAX_FORGOTTEN_SERVERS,
  MAX_KNOWN_IDENTITIES_BYTES,
  MAX_KNOWN_PER_SERVER,
  parseKnownIdentities,
  setKnownIdentity,
} from "../../src/client/known_identities.ts";
import { loadKnownIdentities } from "../../src/client/known_identities_file.ts";
import { memorySlot } from "../../src/client/text_slot.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

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

const FILE_MODULE = new URL(
  "../../src/client/known_identities_file.ts",
  import.meta.url,
).href;

/**
 * A `chat connect` sharing the config folder, as a real process: it reads
 * the list, says "ready", waits for one byte on stdin (the barrier every
 * writer is released by at once), then checks the key `key` for `contested`
 * (which every writer checks) and for `count` names of its own, and prints
 * what each check said.
 */
function writer(path: string, key: string, own: string, count: number) {
  const code = `
    import { loadKnownIdentities } from ${JSON.stringify(FILE_MODULE)};
    const known = await loadKnownIdentities(${JSON.stringify(path)});
    const out = Deno.stdout.writable.getWriter();
    await out.write(new TextEncoder().encode("ready\\n"));
    await Deno.stdin.read(new Uint8Array(1));
    const checks = [await known.check(${JSON.stringify(SERVER)}, "contested", ${
    JSON.stringify(key)
  })];
    for (let i = 0; i < ${count}; i++) {
      checks.push(await known.check(${JSON.stringify(SERVER)}, ${
    JSON.stringify(own)
  } + i, ${JSON.stringify(key)}));
    }
    await out.write(new TextEncoder().encode(JSON.stringify(checks) + "\\n"));
  `;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads `child`'s stdout up to its first line. */
async function firstLine(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Ended before a line: '${text}'`);
    text += decoder.decode(value, { stream: true });
  }
  return text.slice(0, text.indexOf("\n"));
}

Deno.test("KnownIdentities.check from several processes sharing the file at the same instant: no entry lost, one first sight of a contested name, the others a change", async () => {
  await using dir = await tempDir("chat-known-identities-race-");
  const path = join(dir.path, "config", "known_identities");
  const WRITERS = 6;
  const EACH = 8;
  const keys = Array.from(
    { length: WRITERS },
    (_, i) => "SHA256:" + "ABCDEFGHIJ"[i]!.repeat(43),
  );
  const children = keys.map((key, i) => writer(path, key, `w${i}n`, EACH));
  const readers = children.map((child) => child.stdout.getReader());
  const errors = children.map((child) => new Response(child.stderr).text());
  const stdins = children.map((child) => child.stdin.getWriter());
  try {
    for (const reader of readers) {
      assert.equal(await firstLine(reader), "ready");
    }
    // The barrier: all go at once.
    await Promise.all(stdins.map((stdin) => stdin.write(new Uint8Array([1]))));
    const checks = await Promise.all(readers.map(async (reader, i) => {
      const line = await firstLine(reader).catch(async (error) => {
        throw new Error(`writer ${i}: ${error.message}\n${await errors[i]}`);
      });
      return JSON.parse(line) as IdentityCheck[];
    }));
    const contested = checks.map((each) => each[0]!);
    const firsts = contested.flatMap((check, i) =>
      check.kind === "first" ? [keys[i]!] : []
    );
    assert.equal(firsts.length, 1, `first sights: ${firsts.join(", ")}`);
    for (const check of contested) {
      if (check.kind !== "first") {
        assert.deepEqual(check, { kind: "changed", previous: firsts[0] });
      }
    }
    for (const each of checks) {
      assert.deepEqual(
        each.slice(1).map((check) => check.kind),
        Array(EACH).fill("first"),
      );
    }
    const kept = parseKnownIdentities(await Deno.readTextFile(path), SERVER);
    const lost = keys.flatMap((key, i) =>
      Array.from({ length: EACH }, (_, n) => `w${i}n${n}`)
        .filter((name) => kept.get(name) !== key)
    );
    assert.deepEqual(lost, [], `lost: ${lost.join(", ")}`);
    assert.equal(kept.get("contested"), firsts[0]);
  } finally {
    for (const stdin of stdins) await stdin.close().catch(() => {});
    for (const reader of readers) await reader.cancel();
    await Promise.all(errors);
    await Promise.all(children.map((child) => child.status));
  }
});

Deno.test("KnownIdentities.check remembers no first key past MAX_KNOWN_PER_SERVER names of a server, and still checks those it has", async () => {
  let text = "";
  for (let i = 0; i < MAX_KNOWN_PER_SERVER; i++) {
    text += `${SERVER} person${i} ${KEY_A}\n`;
  }
  const slot = memorySlot("memory", text);
  const known = await KnownIdentities.load(slot);
  await assert.rejects(
    known.check(SERVER, "mallory", KEY_B),
    /already remembers the identity keys of 10000 people on this server/,
  );
  assert.equal(await slot.read(), text);
  assert.equal(known.known(SERVER, "mallory"), null);
  assert.deepEqual(await known.check(SERVER, "person7", KEY_A), {
    kind: "same",
  });
  assert.deepEqual(await known.check(SERVER, "person7", KEY_B), {
    kind: "changed",
    previous: KEY_A,
  });
  // Another server has room of its own.
  assert.deepEqual(await known.check(OTHER_SERVER, "mallory", KEY_B), {
    kind: "first",
  });
});

/** `count` people of `server`, one line each, with the key `key`. */
function people(server: string, prefix: string, count: number): string {
  let text = "";
  for (let i = 0; i < count; i++) text += `${server} ${prefix}${i} ${KEY_A}\n`;
  return text;
}

/** A server key made of the letter `letter`. */
function serverOf(letter: string): string {
  return "SHA256:" + letter.repeat(43);
}

Deno.test("KnownIdentities.check: a server's first key past MAX_KNOWN_IDENTITIES_BYTES forgets the people of the other server with the most names, never its own, and says so", async () => {
  // Three hosts invented their full MAX_KNOWN_PER_SERVER each; the classroom
  // server has a few people; the list is near its bound.
  const [first, second] = [serverOf("h"), serverOf("i")];
  const hostile = [first, second, serverOf("j")];
  let text = people(SERVER, "pupil", 5);
  for (const [n, server] of hostile.entries()) {
    text += people(server, "p", MAX_KNOWN_PER_SERVER - n);
  }
  text += people(OTHER_SERVER, "friend", 3);
  // A fourth server, with fewer, longer names, fills the rest.
  for (let i = 0;; i++) {
    const line = `${serverOf("k")} ${String(i).padStart(32, "f")} ${KEY_A}\n`;
    if (text.length + line.length > MAX_KNOWN_IDENTITIES_BYTES) break;
    text += line;
  }
  const slot = memorySlot("memory", text);
  const known = await KnownIdentities.load(slot);
  const check = await known.check(SERVER, "newpupil", KEY_B);
  assert.equal(check.kind, "first");
  assert.deepEqual(check.kind === "first" ? check.notices : null, [
    `Note: to make room in the list of identity keys (known_identities), this client forgot those of the ${MAX_KNOWN_PER_SERVER} people it knew on the server ${
      hostile[0]
    }, the most of any other server: when you next connect there, they are new to it again`,
  ]);
  const kept = await slot.read() ?? "";
  assert.ok(
    new TextEncoder().encode(kept).length <= MAX_KNOWN_IDENTITIES_BYTES,
  );
  assert.equal(parseKnownIdentities(kept, SERVER).size, 6);
  assert.equal(parseKnownIdentities(kept, SERVER).get("newpupil"), KEY_B);
  assert.equal(parseKnownIdentities(kept, OTHER_SERVER).size, 3);
  assert.equal(parseKnownIdentities(kept, first).size, 0);
  assert.equal(
    parseKnownIdentities(kept, second).size,
    MAX_KNOWN_PER_SERVER - 1,
  );
  // The forgotten server's people are new again, and the user told so once
  // there, with when.
  const today = new Date().toISOString().slice(0, 10);
  assert.match(
    kept,
    new RegExp(`^# forgotten ${hostile[0]} 10000 ${today}$`, "m"),
  );
  const again = await KnownIdentities.load(slot);
  assert.deepEqual(await again.check(first, "p0", KEY_B), {
    kind: "first",
    notices: [
      `Note: this client forgot the identity keys of the ${MAX_KNOWN_PER_SERVER} people it knew on this server on ${today}, to make room for another server's: whoever it meets here is new to it again, so a key changed since then is not detected; compare safety numbers with /verify NAME`,
    ],
  });
  // A changed key on the server in use is still detected.
  assert.deepEqual(await again.check(SERVER, "pupil3", KEY_B), {
    kind: "changed",
    previous: KEY_A,
  });
  // Told once: the line says so, and stays; the next start says nothing.
  const told = await slot.read() ?? "";
  assert.match(
    told,
    new RegExp(`^# forgotten ${hostile[0]} 10000 ${today} told ${today}$`, "m"),
  );
  assert.deepEqual(forgottenOn(told, first), {
    count: MAX_KNOWN_PER_SERVER,
    date: today,
    told: today,
  });
  const later = await KnownIdentities.load(slot);
  assert.deepEqual(await later.check(first, "p1", KEY_B), { kind: "first" });
  // Forgotten again, the line is new (and untold).
  assert.deepEqual(
    forgottenOn(forgetServer(told, first, 2, new Date(0)), first),
    { count: 2, date: "1970-01-01" },
  );
});

Deno.test("KnownIdentities.check: the people of the server in use that another client forgot stay known to this session, and a changed key is still announced", async () => {
  const slot = memorySlot("memory", people(SERVER, "pupil", 3));
  const known = await KnownIdentities.load(slot);
  // Another client made room for its own server's people.
  await slot.write(people(OTHER_SERVER, "p", 3));
  assert.deepEqual(await known.check(SERVER, "pupil1", KEY_B), {
    kind: "changed",
    previous: KEY_A,
  });
  assert.deepEqual(await known.check(SERVER, "pupil2", KEY_A), {
    kind: "same",
  });
  // A /trust here saves what the file has, and keeps knowing the rest.
  await known.accept(SERVER, "pupil1", KEY_A);
  assert.deepEqual(await known.check(SERVER, "pupil0", KEY_B), {
    kind: "changed",
    previous: KEY_A,
  });
  // Written back with the next first key of that server.
  assert.deepEqual(await known.check(SERVER, "pupil9", KEY_B), {
    kind: "first",
  });
  const kept = await slot.read() ?? "";
  assert.equal(parseKnownIdentities(kept, SERVER).get("pupil1"), KEY_A);
  assert.equal(parseKnownIdentities(kept, SERVER).get("pupil2"), KEY_A);
  assert.equal(parseKnownIdentities(kept, OTHER_SERVER).size, 3);
});

Deno.test("KnownIdentities.check: a server never pushes out the people of a server with fewer names than it has", async () => {
  // A host with 9,000 invented people in use; the classroom server has 5,000
  // (the most of the others); the list is full.
  const hostile = serverOf("h");
  let text = people(hostile, "p", 9_000) + people(OTHER_SERVER, "pupil", 5_000);
  for (let n = 0; text.length < MAX_KNOWN_IDENTITIES_BYTES - 200; n++) {
    text += people("SHA256:" + String(n).padStart(43, "0"), "x", 1);
  }
  text += `#${" ".repeat(MAX_KNOWN_IDENTITIES_BYTES - 20 - text.length - 2)}\n`;
  const slot = memorySlot("memory", text);
  const known = await KnownIdentities.load(slot);
  await assert.rejects(
    known.check(hostile, "invented", KEY_B),
    /its list is full \(4194304 bytes for all servers\), and no other server has more people in it than this one \(9000\)/,
  );
  assert.equal(await slot.read(), text);
  // The classroom server, smaller, makes room by pushing out the host.
  const check = await known.check(OTHER_SERVER, "newpupil", KEY_B);
  assert.equal(check.kind, "first");
  const kept = await slot.read() ?? "";
  assert.equal(parseKnownIdentities(kept, hostile).size, 0);
  assert.equal(parseKnownIdentities(kept, OTHER_SERVER).size, 5_001);
});

Deno.test("KnownIdentities.check remembers no first key that would take the list past MAX_KNOWN_IDENTITIES_BYTES when no other server's people are there to forget", async () => {
  const line = `# ${"x".repeat(60)}\n`;
  const text = people(SERVER, "pupil", 2) + line.repeat(
    Math.floor(MAX_KNOWN_IDENTITIES_BYTES / line.length) - 2,
  );
  const slot = memorySlot("memory", text);
  const known = await KnownIdentities.load(slot);
  await assert.rejects(
    known.check(SERVER, "sophia", KEY_A),
    /remembers no more identity keys: its list is full/,
  );
  assert.equal(await slot.read(), text);
});

Deno.test("loadKnownIdentities reads the file again only when it changed: a host repeating a changed key costs no reads, and another client's /trust is still seen", async () => {
  await using dir = await tempDir("chat-known-identities-");
  const path = join(dir.path, "known_identities");
  let text = "";
  for (let i = 0; i < 100; i++) text += `${SERVER} person${i} ${KEY_A}\n`;
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  let reads = 0;
  const known = await loadKnownIdentities(path, {
    readTextFile: (at) => {
      reads++;
      return Deno.readTextFile(at);
    },
  });
  assert.equal(reads, 1);
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(await known.check(SERVER, `person${i}`, KEY_B), {
      kind: "changed",
      previous: KEY_A,
    });
    assert.deepEqual(await known.check(SERVER, `person${i}`, KEY_A), {
      kind: "same",
    });
  }
  assert.equal(reads, 1);
  // Another chat connect sharing the folder takes the new key of person7.
  const other = await loadKnownIdentities(path);
  await other.accept(SERVER, "person7", KEY_B);
  assert.deepEqual(await known.check(SERVER, "person7", KEY_B), {
    kind: "same",
  });
  assert.equal(reads, 2);
  assert.deepEqual(await known.check(SERVER, "person8", KEY_B), {
    kind: "changed",
    previous: KEY_A,
  });
  assert.equal(reads, 2);
});

Deno.test("forgetServer keeps the newest MAX_FORGOTTEN_SERVERS lines saying whose people were forgotten", () => {
  let text = people(SERVER, "pupil", 1);
  const day = new Date("2026-01-02T00:00:00Z");
  for (let i = 0; i < MAX_FORGOTTEN_SERVERS + 5; i++) {
    const server = "SHA256:" + String(i).padStart(43, "0");
    text = forgetServer(text + people(server, "p", 1), server, 1, day);
  }
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, MAX_FORGOTTEN_SERVERS + 1);
  assert.equal(lines[0], `${SERVER} pupil0 ${KEY_A}`);
  assert.equal(
    lines[1],
    `# forgotten SHA256:${String(5).padStart(43, "0")} 1 2026-01-02`,
  );
  assert.deepEqual(forgottenOn(text, "SHA256:" + "0".repeat(43)), null);
  assert.deepEqual(
    forgottenOn(
      text,
      "SHA256:" + String(MAX_FORGOTTEN_SERVERS + 4).padStart(43, "0"),
    ),
    { count: 1, date: "2026-01-02" },
  );
});

Deno.test("KnownIdentities.check on a full list: a first key that no room can be made for is refused without the lock, one that makes room forgets under it, and this session's memory no longer knows the people forgotten", async () => {
  const big = serverOf("h");
  // Room for one more of its own, were the list not full.
  let text = people(big, "p", MAX_KNOWN_PER_SERVER - 1);
  text += people(SERVER, "pupil", 5);
  for (let i = 0;; i++) {
    // Other servers with fewer names each.
    const server = serverOf("klmnopqrstuvw"[Math.floor(i / 5000)]!);
    const line = `${server} ${String(i).padStart(32, "f")} ${KEY_A}\n`;
    if (text.length + line.length > MAX_KNOWN_IDENTITIES_BYTES) break;
    text += line;
  }
  // Up to 20 bytes short of the bound: no one more fits.
  text += `#${" ".repeat(MAX_KNOWN_IDENTITIES_BYTES - 20 - text.length - 2)}\n`;
  const kept = memorySlot("memory", text);
  let locks = 0;
  const slot = {
    ...kept,
    exclusively: <T>(work: () => Promise<T>) => {
      locks++;
      return work();
    },
  };
  const known = await KnownIdentities.load(slot);
  // Asked before: what was parsed of the list is kept.
  assert.equal(known.known(big, "p7"), KEY_A);
  // The server with the most names is the one in use: no room is made.
  for (let i = 0; i < 3; i++) {
    await assert.rejects(
      () => known.check(big, `new${i}`, KEY_B),
      /its list is full .* no other server has more people in it than this one \(9999\)/,
    );
  }
  assert.equal(locks, 0);
  assert.equal(await kept.read(), text);
  // A server with fewer makes room, under the lock.
  const check = await known.check(SERVER, "newpupil", KEY_B);
  assert.equal(check.kind, "first");
  assert.equal(locks, 1);
  assert.equal(known.known(SERVER, "newpupil"), KEY_B);
  assert.equal(known.known(big, "p7"), null);
  assert.equal(parseKnownIdentities(await kept.read() ?? "", big).size, 0);
  // The forgotten server's people are new again to this session too.
  const back = await known.check(big, "p7", KEY_B);
  assert.equal(back.kind, "first");
  assert.match(
    (back.kind === "first" ? back.notices : [])?.[0] ?? "",
    /^Note: this client forgot the identity keys of the 9999 people/,
  );
});

Deno.test("loadKnownIdentities adds a first key at the end of the file, in the same format: the file is not written whole nor read again, and another client sharing it still sees each addition", async () => {
  await using dir = await tempDir("chat-known-identities-");
  const path = join(dir.path, "known_identities");
  let text = "# a comment\n";
  for (let i = 0; i < 100; i++) text += `${SERVER} person${i} ${KEY_A}\n`;
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  const inode = (await Deno.stat(path)).ino;
  let reads = 0;
  const known = await loadKnownIdentities(path, {
    readTextFile: (at) => {
      reads++;
      return Deno.readTextFile(at);
    },
  });
  const added: string[] = [];
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(await known.check(SERVER, `New${i}`, KEY_A), {
      kind: "first",
    });
    added.push(`${SERVER} new${i} ${KEY_A}\n`);
  }
  // Appended: the same file, read once (at the start), the lines as ever.
  assert.equal((await Deno.stat(path)).ino, inode);
  assert.equal(reads, 1);
  assert.equal(await Deno.readTextFile(path), text + added.join(""));
  assert.equal(
    parseKnownIdentities(await Deno.readTextFile(path), SERVER).size,
    120,
  );
  // Another chat connect of the folder sees them, and adds its own, which
  // this one then reads (its copy is no longer the file's).
  const other = await loadKnownIdentities(path);
  assert.equal(other.known(SERVER, "new19"), KEY_A);
  assert.deepEqual(await other.check(SERVER, "late", KEY_B), { kind: "first" });
  assert.deepEqual(await known.check(SERVER, "late", KEY_A), {
    kind: "changed",
    previous: KEY_B,
  });
  assert.equal(reads, 2);
  assert.deepEqual(await known.check(SERVER, "new0", KEY_A), { kind: "same" });
  assert.equal(reads, 2);
});

Deno.test("loadKnownIdentities: a first key after a line cut short (a crash while adding) goes on a line of its own", async () => {
  await using dir = await tempDir("chat-known-identities-");
  const path = join(dir.path, "known_identities");
  const cut = `${SERVER} person0 ${KEY_A}\n${SERVER} person1 SHA256:aaa`;
  await Deno.writeTextFile(path, cut, { mode: 0o600 });
  const known = await loadKnownIdentities(path);
  assert.equal(known.known(SERVER, "person1"), null);
  assert.deepEqual(await known.check(SERVER, "person2", KEY_B), {
    kind: "first",
  });
  const text = await Deno.readTextFile(path);
  assert.equal(text, `${cut}\n${SERVER} person2 ${KEY_B}\n`);
  const again = await loadKnownIdentities(path);
  assert.equal(again.known(SERVER, "person2"), KEY_B);
  assert.equal(again.known(SERVER, "person0"), KEY_A);
});
