// This module is browser compatible.

/**
 * The users whose messages are not shown (`/ignore NAME`), per server, by
 * identity key where the client knows it: the server binds each name to one
 * key and says which (`fingerprint` in `/list` and in presence, PROTOCOL.md),
 * so a user who signs in under another name stays ignored, and a name that
 * an operator released to someone else is not. A user whose key the client
 * does not know (not online when ignored, or an older server) is ignored by
 * name.
 *
 * The file (`<config folder>/ignored`, written by ignore_file.ts) has one
 * entry per line:
 *
 *     SHA256:<server key> SHA256:<user key> jojo
 *     SHA256:<server key> - jojo
 *
 * where `-` means the key was not known. Lines that cannot be understood are
 * skipped on reading and kept on writing.
 *
 * @module
 */

import { isValidName, nameKey } from "../protocol/limits.ts";
import { FINGERPRINT_PATTERN } from "../crypto/keys.ts";

/** `SHA256:` and 43 base64 characters (as known_hosts.ts checks them). */

export interface IgnoreEntry {
  /** The server's key fingerprint. */
  server: string;
  /** The user's identity-key fingerprint, or null when not known. */
  fingerprint: string | null;
  /** The name when ignored. */
  name: string;
}

export const IGNORE_FILE_HEADER =
  "# Users whose messages chat does not show: <server key> <user key, or - if unknown> <name>.\n" +
  "# Delete a line (or type /unignore NAME) to see them again.\n";

/** One entry of the file, or null for a comment or a line not understood. */
export function parseIgnoreLine(line: string): IgnoreEntry | null {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return null;
  const [server, key, name, extra] = trimmed.split(/\s+/);
  if (
    server === undefined || key === undefined || name === undefined ||
    extra !== undefined || !FINGERPRINT_PATTERN.test(server) ||
    (key !== "-" && !FINGERPRINT_PATTERN.test(key)) || !isValidName(name)
  ) return null;
  return { server, fingerprint: key === "-" ? null : key, name };
}

/** The line for `entry`. Throws a TypeError for a field that would not read back. */
export function formatIgnoreLine(entry: IgnoreEntry): string {
  const line = `${entry.server} ${entry.fingerprint ?? "-"} ${entry.name}`;
  if (parseIgnoreLine(line) === null) {
    throw new TypeError(`Not an ignore entry: '${line}'`);
  }
  return line;
}

/** The entries in a file's text. */
export function parseIgnoreFile(text: string): IgnoreEntry[] {
  return text.split(/\r?\n/).map(parseIgnoreLine).filter((e) => e !== null);
}

/**
 * `text` with `entry` added (replacing an entry for the same server and the
 * same key, or the same name when neither has a key), other lines kept.
 */
export function addIgnoreEntry(text: string, entry: IgnoreEntry): string {
  const line = formatIgnoreLine(entry);
  const kept = removeLines(text, (e) => sameUser(e, entry));
  const lines = kept === "" ? [IGNORE_FILE_HEADER.trimEnd()] : kept
    .replace(/\n+$/, "").split("\n");
  lines.push(line);
  return lines.join("\n") + "\n";
}

/** `text` without the entries for `name` on `server` (by name or by that name's key). */
export function removeIgnoreEntries(
  text: string,
  server: string,
  name: string,
  fingerprint: string | null,
): string {
  return removeLines(text, (e) =>
    e.server === server &&
    (nameKey(e.name) === nameKey(name) ||
      (fingerprint !== null && e.fingerprint === fingerprint)));
}

function sameUser(a: IgnoreEntry, b: IgnoreEntry): boolean {
  if (a.server !== b.server) return false;
  if (a.fingerprint !== null && a.fingerprint === b.fingerprint) return true;
  return nameKey(a.name) === nameKey(b.name);
}

function removeLines(
  text: string,
  drop: (entry: IgnoreEntry) => boolean,
): string {
  if (text === "") return "";
  const lines = text.split("\n").filter((line) => {
    const entry = parseIgnoreLine(line);
    return entry === null || !drop(entry);
  });
  return lines.join("\n");
}

/** The ignore list of one server, as the session checks it. */
export class IgnoreList {
  #entries: IgnoreEntry[];

  constructor(readonly server: string, entries: readonly IgnoreEntry[]) {
    this.#entries = entries.filter((e) => e.server === server);
  }

  entries(): IgnoreEntry[] {
    return this.#entries.map((e) => ({ ...e }));
  }

  /**
   * Whether a message from `name`, whose key the client knows as
   * `fingerprint` (null: not known), is hidden. A known key decides; by
   * name only when the entry or the sender has no known key.
   */
  isIgnored(name: string, fingerprint: string | null): boolean {
    return this.#entries.some((e) => {
      if (fingerprint !== null && e.fingerprint !== null) {
        return e.fingerprint === fingerprint;
      }
      return nameKey(e.name) === nameKey(name);
    });
  }

  add(entry: Omit<IgnoreEntry, "server">): IgnoreEntry {
    const full = { ...entry, server: this.server };
    formatIgnoreLine(full);
    this.#entries = this.#entries.filter((e) => !sameUser(e, full));
    this.#entries.push(full);
    return full;
  }

  /** Removes the entries for `name` (or its key); returns how many there were. */
  remove(name: string, fingerprint: string | null): number {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) =>
      !(nameKey(e.name) === nameKey(name) ||
        (fingerprint !== null && e.fingerprint === fingerprint))
    );
    return before - this.#entries.length;
  }
}
