// This module is browser compatible.

/**
 * Members of a group without end-to-end keys, left out of what is sent
 * there (docs/PROTOCOL.md 11.11): the server alone says who is a member, so
 * a member it lists without keys may be one the host made up to read the
 * group. A group line is sealed for the members with keys and never goes in
 * the clear to such a member; only a group where no other member has keys
 * (old clients only) is written to in the clear, as before end-to-end
 * groups existed.
 */

/** How many members told of are remembered before the memory starts over. */
export const MAX_KEYLESS_TOLD = 10_000;

/**
 * Whether a group line goes in the clear: only when every other member the
 * server lists is without keys. Someone with keys among them gets it end to
 * end, and the keyless ones are left out (not the reverse, which would hand
 * the line to the host for everyone).
 */
export function sendsInTheClear(others: number, keyless: number): boolean {
  return others > 0 && keyless === others;
}

/** The line that says a keyless member is left out of a group's messages. */
export function keylessLeftOutLine(member: string, group: string): string {
  return `WARNING: ${member} has no end-to-end keys, so your messages to ${group} are not sent to them (the host could read them): they go end to end to the members with keys. ${member} reads those you send after signing in with a client that publishes keys (every current chat client does)`;
}

/** The line that says a keyless member is not given a group file's key. */
export function keylessFileLine(member: string, file: string): string {
  return `WARNING: ${member} has no end-to-end keys, so the key of ${file} is not sent to them (the host could read the file and its name): they cannot open it`;
}

/**
 * The keyless members already told of this session, by `server group
 * member` (name keys): each is said once, not at every line.
 */
export class KeylessTold {
  readonly #told = new Set<string>();

  /** Whether `member` of `group` is new to tell of; remembered if so. */
  add(server: string, group: string, member: string): boolean {
    const key = `${server} ${group} ${member}`;
    if (this.#told.has(key)) return false;
    // Bounded against a host that lists made-up members by the thousand:
    // starting over only says some of them again.
    if (this.#told.size >= MAX_KEYLESS_TOLD) this.#told.clear();
    this.#told.add(key);
    return true;
  }
}
