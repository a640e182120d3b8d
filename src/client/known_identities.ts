// This module is browser compatible.

/**
 * The identity key first seen for each user name, per server (trust on first
 * use, issue 17 item 1): the key whose prekeys end-to-end messages to that
 * name are encrypted for. A later, different key for the name is announced
 * loudly and not taken until the user accepts it; messages to that person
 * wait meanwhile (the caller's part).
 *
 * The file is `<config folder>/known_identities`, one user per line:
 *
 *     # comment
 *     SHA256:<server key> sophia SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
 *
 * The server is named by its key (not its address), as in trusted_senders;
 * the name is written as the server compares it (lower case). Lines that
 * cannot be understood are skipped on reading and kept on writing. A line
 *
 *     # forgotten SHA256:<server key> 10000 2026-12-06
 *
 * (a comment to a client that knows nothing of it) says that the people of
 * that server were forgotten that day to make room for another's: at the
 * next first key there, the user is told that whoever they meet there is
 * new to this client again, and the line ends with ` told <YYYY-MM-DD>`
 * from then on (said once; kept for whoever reads the file).
 *
 * The functions above the class are pure; the class keeps the list in a
 * storage port (text_slot.ts): a file for the terminal
 * (known_identities_file.ts, mode 0600, under a lock shared with the other
 * processes: a first key added at its end, any other change written
 * atomically), IndexedDB for
 * the web page (web/e2e_store.ts).
 */

import { isValidName, nameKey } from "../protocol/limits.ts";
import { nameSkeleton } from "../protocol/name_skeleton.ts";
import type { TextSlot } from "./text_slot.ts";
import { FINGERPRINT_PATTERN } from "../crypto/keys.ts";
import { oneAtATime } from "./one_at_a_time.ts";

/** A key fingerprint (known_hosts.ts has the same; that one is the file's). */
const HEADER =
  "# Identity keys first seen per user: <server key fingerprint> <name> <identity key fingerprint>.\n" +
  "# chat warns when a user's key differs from the one here.\n";

/**
 * How many names a server may have keys remembered for. The server names
 * whoever writes: one that invents people, each with a key of its own and a
 * message that opens, would otherwise add a line for each, without end, to
 * the one list every server's sessions share. A first key past this is not
 * remembered, and what came under it is refused.
 */
export const MAX_KNOWN_PER_SERVER = 10_000;

/**
 * The most the list may hold, all servers together (a line is at most 135
 * bytes: a server's {@link MAX_KNOWN_PER_SERVER} names take up to 1.35 MB);
 * the file is not read past it, and `chat connect` would not start. A first
 * key that would take it past this makes room by forgetting the people of
 * the other server with the most names, if it has more than the server in
 * use (`KnownIdentities.check`): three hosts inventing people must not leave
 * no room for a classmate on the next one, nor push its people out.
 */
export const MAX_KNOWN_IDENTITIES_BYTES = 4 * 1024 * 1024;

/** What a key seen for a name means. */
export type IdentityCheck =
  /**
   * The first key seen for the name on this server: now remembered.
   * `notices`: lines to tell the user, once per server and session, about
   * people forgotten to make room (this server's earlier, or another's now).
   */
  | { kind: "first"; notices?: string[] }
  /** The key remembered. */
  | { kind: "same" }
  /** A different key: not taken until the user accepts it. */
  | { kind: "changed"; previous: string };

/** Name key -> identity fingerprint, for the server key `serverKey`. */
export function parseKnownIdentities(
  text: string,
  serverKey: string,
): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const entry = parseLine(line);
    if (entry !== null && entry.server === serverKey) {
      found.set(entry.name, entry.fingerprint);
    }
  }
  return found;
}

/**
 * `text` with `name` bound to `fingerprint` on the server `serverKey`,
 * replacing the line that bound it before (other lines kept as they are).
 *
 * @throws {TypeError} if a key is not a fingerprint or the name is invalid
 */
export function setKnownIdentity(
  text: string,
  serverKey: string,
  name: string,
  fingerprint: string,
): string {
  const added = knownLine(serverKey, name, fingerprint);
  const key = nameKey(name);
  const lines = (text === "" ? HEADER : text).replace(/\n+$/, "").split("\n")
    .filter((line) => {
      const entry = parseLine(line);
      return entry === null || entry.server !== serverKey || entry.name !== key;
    });
  lines.push(added);
  return lines.join("\n") + "\n";
}

/**
 * The line binding `name` to `fingerprint` on the server `serverKey`
 * (without its newline).
 *
 * @throws {TypeError} if a key is not a fingerprint or the name is invalid
 */
function knownLine(
  serverKey: string,
  name: string,
  fingerprint: string,
): string {
  for (const key of [serverKey, fingerprint]) {
    if (!FINGERPRINT_PATTERN.test(key)) {
      throw new TypeError(`Not a key fingerprint: '${key}'`);
    }
  }
  if (!isValidName(name)) throw new TypeError(`Not a user name: '${name}'`);
  return `${serverKey} ${nameKey(name)} ${fingerprint}`;
}

/** The loud announcement of a changed key, as lines to show. */
export function identityChangeWarning(
  name: string,
  previous: string,
  current: string,
): string[] {
  return [
    `WARNING: ${name}'s identity key has changed!`,
    `  before: ${previous}`,
    `  now:    ${current}`,
    `Someone may be pretending to be ${name}, or ${name} made a new key.`,
    `Private messages to ${name} are held until you check with them and accept the new key.`,
  ];
}

export class KnownIdentities {
  /** Where the list is kept; null: in memory for this session only. */
  readonly slot: TextSlot | null;
  #text: string;
  /**
   * `#text` parsed, per server key, as asked for: a check runs for every
   * end-to-end message, and parsing the list each time cost tens of
   * milliseconds at {@link MAX_KNOWN_PER_SERVER} names. Emptied whenever
   * `#text` changes ({@link #setText}).
   */
  readonly #parsed = new Map<string, Map<string, string>>();
  /**
   * Per parsed list (`#parsed`'s values), the name keys by skeleton, and how
   * many names it held when they were worked out (`#add` adds to a list in
   * place): for {@link lookalikeOf}.
   */
  readonly #skeletons = new WeakMap<Map<string, string>, Skeletons>();
  /** `#text`'s length in UTF-8, or null until asked for. */
  #bytes: number | null = null;
  /**
   * How many newlines `#text` ends with, or null until asked for: looked at
   * in a text grown a line at a time, a character near its end would copy
   * the whole of it (V8 flattens a string built by `+`) for each name.
   */
  #trailingNewlines: number | null = null;
  /** How many names each server has in `#text`, or null until asked for. */
  #counts: Map<string, number> | null = null;
  /** {@link forgottenOn} for each server in `#text`, or null until asked for. */
  #forgotten: Map<string, Forgotten> | null = null;
  /**
   * The text the slot gave at the last read, or that was last written to
   * it: `#text` is built from it.
   */
  #read: string | null = null;
  readonly #inTurn = oneAtATime();
  /**
   * The keys accepted in this session and not written yet, by server and
   * name key: the file's text, read back at each save for what another
   * client added, gets them again, so that none is lost from memory while
   * its own save waits or after it failed (a failed one is written with the
   * next).
   */
  readonly #accepted = new Map<
    string,
    { serverKey: string; name: string; fingerprint: string }
  >();

  private constructor(slot: TextSlot | null, text: string) {
    this.slot = slot;
    this.#text = text;
  }

  /** Keeps `text`, and what was parsed of it if it is the same text. */
  #setText(text: string): void {
    // A slot that finds its text unchanged returns the string it returned
    // before (file_slot.ts `reuseUnchanged`): compared by reference then.
    if (text === this.#text) return;
    this.#text = text;
    this.#parsed.clear();
    this.#bytes = null;
    this.#trailingNewlines = null;
    this.#counts = null;
    this.#forgotten = null;
  }

  /** Name key -> identity fingerprint on the server `serverKey`. */
  #entries(serverKey: string): Map<string, string> {
    let entries = this.#parsed.get(serverKey);
    if (entries === undefined) {
      entries = parseKnownIdentities(this.#text, serverKey);
      this.#parsed.set(serverKey, entries);
    }
    return entries;
  }

  /**
   * Reads the slot again (with what this session accepted and has not
   * written), for what another client decided since. Names of `serverKey`
   * that this session knows and the file lost (another client made room for
   * its own server's people) stay known: a changed key on the server in use
   * is never taken silently as a first sight. They are written back with
   * the next save. A text read as it was read last changes nothing: `#text`
   * is that text with what this session added since.
   */
  async #reread(slot: TextSlot, serverKey: string): Promise<void> {
    const read = await slot.read() ?? "";
    if (read === this.#read) return;
    const before = this.#entries(serverKey);
    this.#setText(withMissing(this.#withAccepted(read), serverKey, before));
    this.#read = read;
  }

  /**
   * The list kept in `slot` (nothing kept is an empty list).
   *
   * @throws {Error} if it is there but cannot be read
   */
  static async load(slot: TextSlot): Promise<KnownIdentities> {
    const text = await slot.read() ?? "";
    const known = new KnownIdentities(slot, text);
    known.#read = text;
    return known;
  }

  /** A list kept in memory only, for a client with no config folder. */
  static inMemory(): KnownIdentities {
    return new KnownIdentities(null, "");
  }

  /** The key remembered for `name` on the server `serverKey`, or null. */
  known(serverKey: string, name: string): string | null {
    return this.#entries(serverKey).get(nameKey(name)) ?? null;
  }

  /**
   * Another name remembered on the server `serverKey` (as its name key)
   * that reads like `name` (the same skeleton, protocol/name_skeleton.ts)
   * under another key than `fingerprint`, or null (a key may hold
   * look-alikes of its own names). An honest server lets no key take a look-alike of a name bound
   * to another (PROTOCOL 8), so a new name that reads like a known person's
   * is the host's doing. The skeletons of a list are worked out once, not
   * for each name a host invents.
   */
  lookalikeOf(
    serverKey: string,
    name: string,
    fingerprint: string,
  ): string | null {
    const entries = this.#entries(serverKey);
    let skeletons = this.#skeletons.get(entries);
    if (skeletons === undefined || skeletons.names !== entries.size) {
      skeletons = { byName: new Map(), names: 0 };
      for (const [known, key] of entries) addSkeleton(skeletons, known, key);
      this.#skeletons.set(entries, skeletons);
    }
    const key = nameKey(name);
    const alike = skeletons.byName.get(nameSkeleton(name)) ?? [];
    // At most three keys looked at: `fingerprint`'s is passed over, and the
    // one `name` itself is known by (if it is) gives another name or none.
    // Not the names one by one: a host may bind thousands of look-alikes
    // (`i`, `l`, `1` in every order) to one key.
    for (const [other, names] of alike) {
      if (other === fingerprint) continue;
      const found = names[0] === key ? names[1] : names[0];
      if (found !== undefined) return found;
    }
    return null;
  }

  /**
   * Checks the key `fingerprint` seen for `name` on the server `serverKey`;
   * the first key seen is remembered (and saved).
   *
   * @throws {Error} with a message for the user if the file cannot be read,
   * locked or written
   */
  async check(
    serverKey: string,
    name: string,
    fingerprint: string,
  ): Promise<IdentityCheck> {
    const known = this.known(serverKey, name);
    if (known === fingerprint) return { kind: "same" };
    const slot = this.slot;
    if (slot === null) {
      if (known !== null) return { kind: "changed", previous: known };
      const notices = this.#makeRoom(serverKey, name, fingerprint);
      const note = this.#tellForgotten(serverKey);
      // A line added at the end, as in a file (#add): not the whole list
      // written and parsed again for each name a host invents.
      this.#grow(serverKey, name, fingerprint);
      return first(note, notices);
    }
    // Read again first: another chat connect sharing the config folder
    // (one OS account, another name) may have seen this name first, or
    // taken its new key with /trust, since we read it. What it decided
    // counts; a first sight here must never replace it, or a changed key
    // would go unannounced. A changed key, or no room that can be made,
    // writes nothing: that is decided without the lock (the file is
    // replaced whole, or a line added at its end: a line read cut short is
    // skipped, and a first sight decided again under the lock), and costs a
    // stat while the file is unchanged, however often a host sends it.
    await this.#reread(slot, serverKey);
    const seen = this.known(serverKey, name);
    if (seen === fingerprint) return { kind: "same" };
    if (seen !== null) return { kind: "changed", previous: seen };
    this.#checkRoom(serverKey, name, fingerprint);
    return await this.#locked(slot, async () => {
      // Again under the lock: the first sight, and the people forgotten to
      // make room for it, are decided and written alone.
      await this.#reread(slot, serverKey);
      const kept = this.known(serverKey, name);
      if (kept === fingerprint) return { kind: "same" };
      if (kept !== null) return { kind: "changed", previous: kept };
      const notices = this.#makeRoom(serverKey, name, fingerprint);
      // Said once: a note marked told makes this a whole write, once.
      const note = this.#tellForgotten(serverKey);
      if (
        this.#read !== null && this.#read !== "" &&
        this.#text === this.#read && this.#accepted.size === 0
      ) {
        // The list is the file's, and grows by one line: added at its end.
        await this.#add(slot, serverKey, name, fingerprint);
      } else {
        this.#take(serverKey, name, fingerprint);
        await this.#save(slot, serverKey, this.#text);
      }
      return first(note, notices);
    });
  }

  /**
   * Adds the line of a first key to the end of the list, which is the
   * slot's text as read last (called `#locked`): the file is not written
   * whole for each of up to {@link MAX_KNOWN_PER_SERVER} names a host can
   * send, nor the list parsed again.
   */
  async #add(
    slot: TextSlot,
    serverKey: string,
    name: string,
    fingerprint: string,
  ): Promise<void> {
    const addition = this.#addition(serverKey, name, fingerprint);
    const next = this.#text + addition;
    try {
      if (slot.append === undefined) await slot.write(next);
      else await slot.append(addition, next);
    } catch (error) {
      // Kept in memory, and written with the next save (as #save does).
      this.#take(serverKey, name, fingerprint);
      this.#read = null;
      throw new Error(
        `Cannot save known identities ${slot.where}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
    this.#grow(serverKey, name, fingerprint, addition, next);
    this.#read = next;
  }

  /**
   * The line of a first key of `name` on the server `serverKey`, as added
   * at the end of `#text` (after the header, to an empty list).
   *
   * @throws {TypeError} if a key is not a fingerprint or the name is invalid
   */
  #addition(serverKey: string, name: string, fingerprint: string): string {
    const line = knownLine(serverKey, name, fingerprint) + "\n";
    if (this.#text === "") return HEADER + line;
    this.#trailingNewlines ??= trailingNewlines(this.#text);
    // After a line cut short (a crash during an add), on a line of its own.
    return (this.#trailingNewlines === 0 ? "\n" : "") + line;
  }

  /**
   * `#text` with `addition`, the line of the first key `fingerprint` of
   * `name` on the server `serverKey` ({@link #addition}), added at its end:
   * `next`, or that text built here. What was worked out of the text stays
   * true with the line added, and is kept: nothing is parsed, counted nor
   * measured again, for each of up to {@link MAX_KNOWN_PER_SERVER} names a
   * host can send.
   */
  #grow(
    serverKey: string,
    name: string,
    fingerprint: string,
    addition = this.#addition(serverKey, name, fingerprint),
    next = this.#text + addition,
  ): void {
    this.#entries(serverKey);
    const parsed = [...this.#parsed];
    const bytes = this.#bytes;
    const counts = this.#counts;
    const forgotten = this.#forgotten;
    this.#setText(next);
    for (const [server, entries] of parsed) this.#parsed.set(server, entries);
    const entries = this.#parsed.get(serverKey);
    if (entries !== undefined) {
      const key = nameKey(name);
      const previous = entries.get(key);
      entries.set(key, fingerprint);
      const skeletons = this.#skeletons.get(entries);
      if (skeletons !== undefined) {
        // A name that had a line (none has, for a first key) is sorted
        // again with the rest at the next look.
        if (previous === undefined) addSkeleton(skeletons, key, fingerprint);
        else this.#skeletons.delete(entries);
      }
    }
    if (bytes !== null) {
      this.#bytes = bytes + new TextEncoder().encode(addition).length;
    }
    if (counts !== null) {
      counts.set(serverKey, (counts.get(serverKey) ?? 0) + 1);
      this.#counts = counts;
    }
    this.#forgotten = forgotten;
    this.#trailingNewlines = 1;
  }

  /**
   * Throws, with a message for the user, when the first key of `name` on
   * the server `serverKey` cannot be remembered, room made or not (see
   * {@link #makeRoom}); reads the list only.
   */
  #checkRoom(serverKey: string, name: string, fingerprint: string): void {
    const count = this.#entries(serverKey).size;
    if (count >= MAX_KNOWN_PER_SERVER) throw perServerRefusal(count);
    if (
      this.#grownBytes(serverKey, name, fingerprint) >
        MAX_KNOWN_IDENTITIES_BYTES
    ) {
      const largest = this.#largestOther(this.#text, serverKey);
      if (largest === null || largest.count <= count) throw fullRefusal(count);
    }
  }

  /**
   * Makes room in the list for the first key of `name` on the server
   * `serverKey`: when the list would grow past
   * {@link MAX_KNOWN_IDENTITIES_BYTES}, the people of the other server
   * remembered with the most names are forgotten (their lines go, and a
   * `# forgotten` line says so), again until it fits, if it has more names
   * than `serverKey`: a host inventing people fills at most its own
   * {@link MAX_KNOWN_PER_SERVER}, loses them to the next smaller server that
   * needs the room, and never pushes out a smaller one. Names of `serverKey`
   * are never forgotten here.
   *
   * @returns the lines telling the user which servers' people were forgotten
   * @throws {Error} with a message for the user past
   * {@link MAX_KNOWN_PER_SERVER} names of `serverKey`, or when the list is
   * full and no other server has more names than `serverKey`
   */
  #makeRoom(serverKey: string, name: string, fingerprint: string): string[] {
    const count = this.#entries(serverKey).size;
    if (count >= MAX_KNOWN_PER_SERVER) throw perServerRefusal(count);
    const notices: string[] = [];
    let text = this.#text;
    let grown = this.#grownBytes(serverKey, name, fingerprint);
    while (grown > MAX_KNOWN_IDENTITIES_BYTES) {
      // Only a server with more people than this one: a host inventing people
      // never pushes out a smaller (a classroom's) list, only larger ones.
      const largest = this.#largestOther(text, serverKey);
      if (largest === null || largest.count <= count) throw fullRefusal(count);
      text = forgetServer(text, largest.server, largest.count, new Date());
      // Not set again at the next save: they are forgotten.
      for (const [at, one] of this.#accepted) {
        if (one.serverKey === largest.server) this.#accepted.delete(at);
      }
      notices.push(
        `Note: to make room in the list of identity keys (known_identities), this client forgot those of the ${largest.count} people it knew on the server ${largest.server}, the most of any other server: when you next connect there, they are new to it again`,
      );
      grown = grownBytes(
        text,
        new TextEncoder().encode(text).length,
        trailingNewlines(text),
        serverKey,
        name,
        fingerprint,
      );
    }
    this.#setText(text);
    return notices;
  }

  /**
   * {@link largestOtherServer} of `text`, counted once per `#text` when it
   * is `#text` (a refused first key is checked for every message).
   */
  #largestOther(
    text: string,
    serverKey: string,
  ): { server: string; count: number } | null {
    if (text !== this.#text) return largestOtherServer(text, serverKey);
    this.#counts ??= serverCounts(text);
    return largest(this.#counts, serverKey);
  }

  /**
   * The note telling the user that the people of `serverKey` were forgotten
   * (its `# forgotten` line), if they were not told yet, or null: the line
   * is marked told in `#text` (written with the first key), so the note
   * comes once, not at every start, and the line stays for whoever reads
   * the file.
   */
  #tellForgotten(serverKey: string): string | null {
    this.#forgotten ??= forgottenServers(this.#text);
    const forgotten = this.#forgotten.get(serverKey);
    if (forgotten === undefined || forgotten.told !== undefined) return null;
    this.#setText(markTold(this.#text, serverKey, new Date()));
    return `Note: this client forgot the identity keys of the ${forgotten.count} people it knew on this server on ${forgotten.date}, to make room for another server's: whoever it meets here is new to it again, so a key changed since then is not detected; compare safety numbers with /verify NAME`;
  }

  /**
   * {@link grownBytes} of `#text`, its length counted once per text.
   */
  #grownBytes(serverKey: string, name: string, fingerprint: string): number {
    this.#bytes ??= new TextEncoder().encode(this.#text).length;
    this.#trailingNewlines ??= trailingNewlines(this.#text);
    return grownBytes(
      this.#text,
      this.#bytes,
      this.#trailingNewlines,
      serverKey,
      name,
      fingerprint,
    );
  }

  /**
   * Takes `fingerprint` as the key of `name` from now on and saves the file
   * (re-read first, so what another client added meanwhile stays).
   *
   * @throws {Error} with a message for the user if the file cannot be
   * locked or written
   */
  async accept(
    serverKey: string,
    name: string,
    fingerprint: string,
  ): Promise<void> {
    this.#take(serverKey, name, fingerprint);
    const slot = this.slot;
    if (slot === null) return;
    await this.#locked(slot, () => this.#save(slot, serverKey));
  }

  /** Sets the key in memory, to be written with the next save. */
  #take(serverKey: string, name: string, fingerprint: string): void {
    this.#setText(
      setKnownIdentity(this.#text, serverKey, name, fingerprint),
    );
    const key = `${serverKey} ${nameKey(name)}`;
    this.#accepted.delete(key);
    this.#accepted.set(key, { serverKey, name, fingerprint });
  }

  /**
   * Runs `work` (a read, a decision, a write) one at a time in this session
   * and alone among the clients sharing the slot (its lock): two at once
   * would each read the old list, and the later write would drop the
   * other's key, or each would take its own key for a name as the first.
   */
  #locked<T>(slot: TextSlot, work: () => Promise<T>): Promise<T> {
    return this.#inTurn(() =>
      slot.exclusively === undefined ? work() : slot.exclusively(work)
    );
  }

  /**
   * Writes what is kept with what this session accepted set in it, or
   * `changed`, the list read under this lock and changed; called `#locked`.
   */
  async #save(
    slot: TextSlot,
    serverKey: string,
    changed?: string,
  ): Promise<void> {
    // What this session knows of the server that the file lost stays known
    // (as in check).
    const before = this.#entries(serverKey);
    let text: string;
    try {
      text = changed ?? this.#withAccepted(await slot.read() ?? "");
      await slot.write(text);
    } catch (error) {
      // Memory may now differ from the file (people forgotten and not
      // written): the next read builds it from the file again.
      this.#read = null;
      throw new Error(
        `Cannot save known identities ${slot.where}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
    // Written: the file has them now, and what another client decides
    // about them later (a /trust of a new key) must not be undone by this
    // session's next save. Those not written yet (a later accept, or one
    // whose save failed) stay, and go with the next save.
    const written = parseKnownIdentities(text, serverKey);
    for (const [at, one] of this.#accepted) {
      if (
        one.serverKey === serverKey &&
        written.get(nameKey(one.name)) === one.fingerprint
      ) this.#accepted.delete(at);
    }
    // The file is this text now: read back unchanged, it changes nothing.
    this.#read = text;
    // With what another client added meanwhile.
    this.#setText(withMissing(this.#withAccepted(text), serverKey, before));
  }

  /** `text` with every key accepted in this session set in it. */
  #withAccepted(text: string): string {
    if (this.#accepted.size === 0) return text;
    // Read once per server; only what differs is set (each set re-reads
    // the whole text).
    const read = new Map<string, Map<string, string>>();
    const missing = [...this.#accepted.values()].filter((one) => {
      let known = read.get(one.serverKey);
      if (known === undefined) {
        known = parseKnownIdentities(text, one.serverKey);
        read.set(one.serverKey, known);
      }
      return known.get(nameKey(one.name)) !== one.fingerprint;
    });
    for (const one of missing) {
      text = setKnownIdentity(text, one.serverKey, one.name, one.fingerprint);
    }
    return text;
  }
}

/**
 * `text` with the people of `serverKey` in `before` that it has no key for
 * set in it.
 */
function withMissing(
  text: string,
  serverKey: string,
  before: Map<string, string>,
): string {
  const now = parseKnownIdentities(text, serverKey);
  const missing = [...before].filter(([name]) => !now.has(name));
  if (missing.length === 0) return text;
  return (text === "" ? HEADER : text.replace(/\n*$/, "\n")) +
    missing.map(([name, key]) => `${serverKey} ${name} ${key}\n`).join("");
}

/** How many `# forgotten` lines the list keeps (the newest). */
export const MAX_FORGOTTEN_SERVERS = 1000;

/**
 * A `# forgotten` line; ` told <YYYY-MM-DD>` after it once the user was told
 * (a line older clients do not know, and keep).
 */
const FORGOTTEN =
  /^# forgotten (SHA256:\S+) (\d+) (\d{4}-\d{2}-\d{2})(?: told (\d{4}-\d{2}-\d{2}))?$/;

/**
 * Name keys by skeleton and then by identity key (each in the order the
 * list has them), and how many names were counted in.
 */
interface Skeletons {
  readonly byName: Map<string, Map<string, string[]>>;
  names: number;
}

function addSkeleton(
  skeletons: Skeletons,
  known: string,
  fingerprint: string,
): void {
  const skeleton = nameSkeleton(known);
  let byKey = skeletons.byName.get(skeleton);
  if (byKey === undefined) {
    byKey = new Map();
    skeletons.byName.set(skeleton, byKey);
  }
  const names = byKey.get(fingerprint);
  if (names === undefined) byKey.set(fingerprint, [known]);
  else names.push(known);
  skeletons.names++;
}

/** A first sight, with what the user must be told about the list. */
function first(note: string | null, notices: string[]): IdentityCheck {
  const all = note === null ? notices : [note, ...notices];
  return all.length === 0 ? { kind: "first" } : { kind: "first", notices: all };
}

/** `text` with the `# forgotten` lines of `server` marked told on `now`. */
function markTold(text: string, server: string, now: Date): string {
  const day = now.toISOString().slice(0, 10);
  return text.split("\n").map((line) => {
    const forgotten = FORGOTTEN.exec(line.trim());
    return forgotten === null || forgotten[1] !== server ||
        forgotten[4] !== undefined
      ? line
      : `${line.trim()} told ${day}`;
  }).join("\n");
}

/** How many names each server has in `text`. */
function serverCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split(/\r?\n/)) {
    const entry = parseLine(line);
    if (entry !== null) {
      counts.set(entry.server, (counts.get(entry.server) ?? 0) + 1);
    }
  }
  return counts;
}

/** The server other than `serverKey` with the most names in `counts`. */
function largest(
  counts: Map<string, number>,
  serverKey: string,
): { server: string; count: number } | null {
  let found: { server: string; count: number } | null = null;
  for (const [server, count] of counts) {
    if (server !== serverKey && (found === null || count > found.count)) {
      found = { server, count };
    }
  }
  return found;
}

/** The other server than `serverKey` with the most names in `text`. */
function largestOtherServer(
  text: string,
  serverKey: string,
): { server: string; count: number } | null {
  return largest(serverCounts(text), serverKey);
}

/** How many newlines `text` ends with. */
function trailingNewlines(text: string): number {
  let newlines = 0;
  while (text[text.length - 1 - newlines] === "\n") newlines++;
  return newlines;
}

/**
 * The UTF-8 length of {@link setKnownIdentity}'s text for a name with no
 * line yet in `text` (`bytes` long in UTF-8, ending with `newlines`
 * newlines), without building it.
 */
function grownBytes(
  text: string,
  bytes: number,
  newlines: number,
  serverKey: string,
  name: string,
  fingerprint: string,
): number {
  const encoder = new TextEncoder();
  const [baseBytes, baseNewlines] = text === ""
    ? [encoder.encode(HEADER).length, trailingNewlines(HEADER)]
    : [bytes, newlines];
  const line = `${serverKey} ${nameKey(name)} ${fingerprint}`;
  // The text without its final newlines, "\n", the line and "\n".
  return baseBytes - baseNewlines + 1 + encoder.encode(line).length + 1;
}

/**
 * A first key not remembered: the list has no room for it. Whatever came
 * under it is refused, and nothing more spent on that name (no notice to
 * it, no request for its keys): a server inventing people gets there.
 */
export class IdentityRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IdentityRefused";
  }
}

/** The refusal of a first key past {@link MAX_KNOWN_PER_SERVER}. */
function perServerRefusal(count: number): Error {
  return new IdentityRefused(
    `this client already remembers the identity keys of ${count} people on this server (at most ${MAX_KNOWN_PER_SERVER}, and ${MAX_KNOWN_IDENTITIES_BYTES} bytes for all servers) and remembers no more: the server may be inventing people`,
  );
}

/** The refusal of a first key when no room can be made for it. */
function fullRefusal(count: number): Error {
  return new IdentityRefused(
    `this client remembers no more identity keys: its list is full (${MAX_KNOWN_IDENTITIES_BYTES} bytes for all servers), and no other server has more people in it than this one (${count})`,
  );
}

/**
 * `text` without the people of `server`, and with a line saying when they
 * were forgotten (a comment: a client that knows nothing of it skips it, and
 * keeps it); at most {@link MAX_FORGOTTEN_SERVERS} such lines stay.
 */
export function forgetServer(
  text: string,
  server: string,
  count: number,
  now: Date,
): string {
  const lines = text.replace(/\n+$/, "").split("\n").filter((line) => {
    const entry = parseLine(line);
    if (entry !== null) return entry.server !== server;
    const forgotten = FORGOTTEN.exec(line.trim());
    return forgotten === null || forgotten[1] !== server;
  });
  lines.push(
    `# forgotten ${server} ${count} ${now.toISOString().slice(0, 10)}`,
  );
  let excess = lines.filter((line) => FORGOTTEN.test(line.trim())).length -
    MAX_FORGOTTEN_SERVERS;
  return lines.filter((line) =>
    excess <= 0 || !FORGOTTEN.test(line.trim()) || excess-- <= 0
  ).join("\n") + "\n";
}

/** What a `# forgotten` line says. */
export interface Forgotten {
  count: number;
  /** When (YYYY-MM-DD). */
  date: string;
  /** When the user was told (YYYY-MM-DD), if they were. */
  told?: string;
}

/** When the people of `server` were last forgotten, and how many, or null. */
export function forgottenOn(
  text: string,
  server: string,
): Forgotten | null {
  return forgottenServers(text).get(server) ?? null;
}

/** {@link forgottenOn} of every server `text` has a `# forgotten` line of. */
function forgottenServers(text: string): Map<string, Forgotten> {
  const found = new Map<string, Forgotten>();
  for (const line of text.split(/\r?\n/)) {
    const forgotten = FORGOTTEN.exec(line.trim());
    if (forgotten !== null && forgotten[1] !== undefined) {
      found.set(forgotten[1], {
        count: Number(forgotten[2]),
        date: forgotten[3] ?? "",
        ...(forgotten[4] === undefined ? {} : { told: forgotten[4] }),
      });
    }
  }
  return found;
}

function parseLine(
  line: string,
): { server: string; name: string; fingerprint: string } | null {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return null;
  const [server, name, fingerprint, extra] = trimmed.split(/\s+/);
  if (
    server === undefined || name === undefined || fingerprint === undefined ||
    extra !== undefined || !FINGERPRINT_PATTERN.test(server) ||
    !FINGERPRINT_PATTERN.test(fingerprint) || !isValidName(name)
  ) {
    return null;
  }
  return { server, name: nameKey(name), fingerprint };
}
