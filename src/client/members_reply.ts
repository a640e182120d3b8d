// This module is browser compatible.

/**
 * A `members` reply checked against the group it was asked about. The
 * server's list says who is given a group's chain, whose name a sealed
 * group message and a group file's key carry (both signed by the sender):
 * followed when it is about another group, a message typed to one group
 * went, genuine, into a group the host chose (`/group crew ...` sealed and
 * shown to the members of parents as written there).
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import type { ServerMessage } from "../protocol/messages.ts";

/** One group of a `members` reply. */
export type MembersEntry = Extract<
  ServerMessage,
  { t: "members" }
>["groups"][number];

/**
 * The entry of `reply` for `group` (case aside), or why it is not there:
 * the reply is about another group (`other`), or lists none (`none`).
 */
export function membersOf(
  reply: Extract<ServerMessage, { t: "members" }>,
  group: string,
): { entry: MembersEntry } | { other: string } | { none: true } {
  const entry = reply.groups[0];
  if (entry === undefined) return { none: true };
  if (nameKey(entry.group) !== nameKey(group)) return { other: entry.group };
  return { entry };
}

/**
 * The entry for `group` of `reply` if it is a `members` reply about that
 * group (membersOf), else undefined: an error, or a list about another.
 */
export function entryOf(
  reply: ServerMessage,
  group: string,
): MembersEntry | undefined {
  if (reply.t !== "members") return undefined;
  const found = membersOf(reply, group);
  return "entry" in found ? found.entry : undefined;
}

/** What the user reads of a `members` reply about `other`, not `group`. */
export function otherGroupText(other: string, group: string): string {
  return `the server answered with the members of ${other}, not of ${group}`;
}

/**
 * Members new to the user (given a group's chain, or a group file's key,
 * not given it before) named in one line at most: past it they are counted,
 * as new, and `/members` lists them. Never the ten of a first line: a host
 * adding members of its own among many others hid them in its "and 190
 * more".
 */
export const MAX_NEW_NAMED = 20;

/** Names listed in a line at most; the rest are counted. */
const MAX_NAMED = 10;

/**
 * `alice`, `alice and bob`, `a, b and c`; past `max` (ten), `... and 2
 * more`, or with `more` given, `... and 2 more <more>`.
 */
export function namesList(
  names: readonly string[],
  max = MAX_NAMED,
  more = "",
): string {
  const named = names.slice(0, max);
  const rest = names.length - named.length;
  if (rest > 0) {
    return `${named.join(", ")} and ${rest} more${more ? ` ${more}` : ""}`;
  }
  return named.length === 1
    ? named[0]!
    : `${named.slice(0, -1).join(", ")} and ${named.at(-1)}`;
}
