// This module is browser compatible.

/**
 * What `/query` says after its note when the conversation it opens cannot
 * be written to now: nobody of that name online, a group that does not
 * exist or that one is not in. Said at once, in the terminal and on the
 * page alike, not at each line sent there.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { entryOf } from "./members_reply.ts";

/**
 * Said after `/query #GROUP` when the server's `members` reply shows that
 * `self` is not in the group, or that it does not exist; null otherwise
 * (a member, or a list cut short that may hold `self` further on).
 */
export function groupQueryNote(
  group: string,
  self: string,
  reply: ServerMessage,
): string | null {
  const shown = sanitizeForTerminal(group);
  if (reply.t === "error" && reply.code === "no_such_group") {
    return `Group '${shown}' does not exist. Create it with /create ${shown}`;
  }
  if (reply.t !== "members" || reply.more !== undefined) return null;
  const listed = entryOf(reply, group);
  if (
    listed === undefined || listed.more !== undefined ||
    listed.members.some((member) => nameKey(member) === nameKey(self))
  ) return null;
  return `You are not a member of group '${shown}'. Join it with /join ${shown}`;
}

/**
 * Said after `/query NAME` when nobody of that name is online: a typo's
 * every line would otherwise fail one at a time.
 */
export function notOnlineNote(name: string, likely: string | null): string {
  const shown = sanitizeForTerminal(name);
  return likely === null
    ? `No one named '${shown}' is online now.`
    : `No one named '${shown}' is online now; did you mean ${
      sanitizeForTerminal(likely)
    }?`;
}
