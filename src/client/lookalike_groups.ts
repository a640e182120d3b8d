// This module is browser compatible.

/**
 * Group names that read like another group this client knows end to end
 * (`tearn` beside `team`, `c1ass` beside `class`; protocol/name_skeleton.ts).
 * An honest server lets nobody create a group whose name reads like one
 * someone else created (docs/PROTOCOL.md 8, "Look-alike names"), but the
 * server alone says which groups there are and who is in them: a hostile
 * host can make up `tearn`, list the user in it and deliver lines there,
 * plain or end to end from people of its own, for the user to read as
 * lines of `team` and to answer there. The client warns before the first
 * line of such a group in a session, received or sent (group_sessions.ts
 * `lookalikeWarning`), as it does for a look-alike of a person's name
 * (plain_messages.ts PlainLookalikeWarnings).
 *
 * "Known" is what the host cannot make up alone: a group for which this
 * client holds a sender chain (its own, or one a member gave it end to
 * end; group_sessions.ts GroupState). Which of a pair is the made-up one
 * cannot be told from here (the host's group is known too once one of its
 * people gave a chain there): the first line of either is warned of.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import { nameSkeleton } from "../protocol/name_skeleton.ts";

/**
 * Group names (name keys) per `server skeleton`, from the keys of a
 * GroupState's maps (`server group` for its own chains, `server group
 * sender` for those received): what {@link lookalikeGroupIn} looks in.
 */
export type GroupsBySkeleton = Map<string, Set<string>>;

/** Indexes the groups named in `stateKeys` by server and skeleton. */
export function groupsBySkeleton(
  stateKeys: Iterable<string>,
): GroupsBySkeleton {
  const index: GroupsBySkeleton = new Map();
  for (const key of stateKeys) {
    const [server, group] = key.split(" ");
    if (server === undefined || group === undefined) continue;
    const where = `${server} ${nameSkeleton(group)}`;
    let groups = index.get(where);
    if (groups === undefined) index.set(where, groups = new Set());
    groups.add(nameKey(group));
  }
  return index;
}

/**
 * A group known on `server` (its name key) whose name reads like `group`
 * but is another name, or null.
 */
export function lookalikeGroupIn(
  index: GroupsBySkeleton,
  server: string,
  group: string,
): string | null {
  const alike = index.get(`${server} ${nameSkeleton(group)}`);
  if (alike === undefined) return null;
  const own = nameKey(group);
  for (const known of alike) if (known !== own) return known;
  return null;
}

/** The warning before the first line of `group`, which reads like `known`. */
export function lookalikeGroupWarning(group: string, known: string): string {
  return `WARNING: The group ${group} looks like ${known}, a group this client has end-to-end keys for: a server lets nobody make a group whose name reads like a group someone else made, so unless whoever made ${known} made ${group} too, the host of this server may be passing one off as the other. Lines in ${group} are not in ${known}, and what you send to ${group} goes to its members (/members ${group}) (said once)`;
}

/**
 * Group names remembered by one LookalikeGroupWarnings; past it (a hostile
 * server inventing groups) the memory starts again, at worst repeating a
 * warning.
 */
const MAX_WARNED = 10_000;

/**
 * The warnings before group lines under a name that reads like another
 * group known end to end: one for each pair of names, at the first line of
 * either in this session, received (plain or end to end, live or in a
 * history) or sent (the warning names both: the lines of the other are not
 * warned of again).
 */
export class LookalikeGroupWarnings {
  readonly #warned = new Set<string>();

  /**
   * The warning to show before a line of `group`, or null: it reads like
   * no other group known (`lookalikeOf`: the known name, or null), or was
   * warned of already.
   */
  before(
    group: string,
    lookalikeOf: (group: string) => string | null,
  ): string | null {
    const key = nameKey(group);
    if (this.#warned.has(key)) return null;
    const known = lookalikeOf(group);
    if (known === null) return null;
    if (this.#warned.size >= MAX_WARNED) this.#warned.clear();
    this.#warned.add(key);
    this.#warned.add(nameKey(known));
    return lookalikeGroupWarning(group, known);
  }
}
