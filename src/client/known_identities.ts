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
 * cannot be understood are skipped on reading and kept on writing.
 *
 * The functions above the class are pure; the class keeps the list in a
 * storage port (text_slot.ts): a file for the terminal
 * (known_identities_file.ts, mode 0600, written atomically under a lock
 * shared with the other processes), IndexedDB for
 * the web page (web/e2e_store.ts).
 */

import { isValidName, nameKey } from "../protocol/limits.ts";
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
 * the one list every server's sessions share; past
 * {@link MAX_KNOWN_IDENTITIES_BYTES} that list could no longer be read, and
 * `chat connect` refused to start on any server. A first key past this is
 * not remembered, and what came under it is refused.
 */
export const MAX_KNOWN_PER_SERVER = 10_000;

/**
 * The most the list may hold, all servers together (a line is at most 135
 * bytes: 4,000 users on each of 7 servers fit); the file is not read past it.
 */
export const MAX_KNOWN_IDENTITIES_BYTES = 4 * 1024 * 1024;

/** What a key seen for a name means. */
export type IdentityCheck =
  /** The first key seen for the name on this server: now remembered. */
  | { kind: "first" }
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
  for (const key of [serverKey, fingerprint]) {
    if (!FINGERPRINT_PATTERN.test(key)) {
      throw new TypeError(`Not a key fingerprint: '${key}'`);
    }
  }
  if (!isValidName(name)) throw new TypeError(`Not a user name: '${name}'`);
  const key = nameKey(name);
  const lines = (text === "" ? HEADER : text).replace(/\n+$/, "").split("\n")
    .filter((line) => {
      const entry = parseLine(line);
      return entry === null || entry.server !== serverKey || entry.name !== key;
    });
  lines.push(`${serverKey} ${key} ${fingerprint}`);
  return lines.join("\n") + "\n";
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
  /** `#text`'s length in UTF-8, or null until asked for. */
  #bytes: number | null = null;
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
   * written), for what another client decided since.
   */
  async #reread(slot: TextSlot): Promise<void> {
    this.#setText(this.#withAccepted(await slot.read() ?? ""));
  }

  /**
   * The list kept in `slot` (nothing kept is an empty list).
   *
   * @throws {Error} if it is there but cannot be read
   */
  static async load(slot: TextSlot): Promise<KnownIdentities> {
    return new KnownIdentities(slot, await slot.read() ?? "");
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
      this.#checkRoom(serverKey, name, fingerprint);
      this.#take(serverKey, name, fingerprint);
      return { kind: "first" };
    }
    // Read again first: another chat connect sharing the config folder
    // (one OS account, another name) may have seen this name first, or
    // taken its new key with /trust, since we read it. What it decided
    // counts; a first sight here must never replace it, or a changed key
    // would go unannounced. A changed key, or no room, writes nothing: that
    // is decided without the lock (the file is only ever replaced whole),
    // and costs a stat while the file is unchanged, however often a host
    // sends it.
    await this.#reread(slot);
    const seen = this.known(serverKey, name);
    if (seen === fingerprint) return { kind: "same" };
    if (seen !== null) return { kind: "changed", previous: seen };
    this.#checkRoom(serverKey, name, fingerprint);
    return await this.#locked(slot, async () => {
      // Again under the lock: the first sight is decided and written
      // alone.
      await this.#reread(slot);
      const kept = this.known(serverKey, name);
      if (kept === fingerprint) return { kind: "same" };
      if (kept !== null) return { kind: "changed", previous: kept };
      this.#checkRoom(serverKey, name, fingerprint);
      this.#take(serverKey, name, fingerprint);
      await this.#save(slot, serverKey);
      return { kind: "first" };
    });
  }

  /**
   * Throws, with a message for the user, when the first key of `name` would
   * take the server `serverKey` past {@link MAX_KNOWN_PER_SERVER} names or the
   * list past {@link MAX_KNOWN_IDENTITIES_BYTES}.
   */
  #checkRoom(serverKey: string, name: string, fingerprint: string): void {
    const count = this.#entries(serverKey).size;
    if (
      count >= MAX_KNOWN_PER_SERVER ||
      this.#grownBytes(serverKey, name, fingerprint) >
        MAX_KNOWN_IDENTITIES_BYTES
    ) {
      throw new Error(
        `this client already remembers the identity keys of ${count} people on this server (at most ${MAX_KNOWN_PER_SERVER}, and ${MAX_KNOWN_IDENTITIES_BYTES} bytes for all servers) and remembers no more: the server may be inventing people`,
      );
    }
  }

  /**
   * The UTF-8 length of {@link setKnownIdentity}'s text for a name with no
   * line yet, without building it (the list is only read here).
   */
  #grownBytes(serverKey: string, name: string, fingerprint: string): number {
    const encoder = new TextEncoder();
    const base = this.#text === "" ? HEADER : this.#text;
    const bytes = this.#text === ""
      ? encoder.encode(HEADER).length
      : (this.#bytes ??= encoder.encode(this.#text).length);
    let newlines = 0;
    while (base[base.length - 1 - newlines] === "\n") newlines++;
    const line = `${serverKey} ${nameKey(name)} ${fingerprint}`;
    // The text without its final newlines, "\n", the line and "\n".
    return bytes - newlines + 1 + encoder.encode(line).length + 1;
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
   * Writes what is kept with what this session accepted set in it; called
   * `#locked`.
   */
  async #save(slot: TextSlot, serverKey: string): Promise<void> {
    let text: string;
    try {
      text = this.#withAccepted(await slot.read() ?? "");
      await slot.write(text);
    } catch (error) {
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
    // With what another client added meanwhile.
    this.#setText(this.#withAccepted(text));
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
