// This module is browser compatible.

/**
 * "Did you mean jojo?" after the server's answer that nobody of the name
 * typed is online (`/msg jojp hi`), or that no group of that name exists
 * (`/join hahq`): the server's words kept as they are (the seed's), the
 * name likely meant added when exactly one name known is a slip away from
 * it. Worked out here, from the names this client already follows, so the
 * server does no search for anyone's typo.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import type { Command } from "./commands.ts";
import type { Reply } from "./chat_client.ts";
import { onlyOneClose } from "./did_you_mean.ts";

/** The names a session follows: who is online, and the groups there are. */
export interface KnownNames {
  users: Iterable<string>;
  groups: Iterable<string>;
}

/**
 * `reply` to `command`, with the name likely meant added when it says the
 * user (`/msg`) or the group (`/join`, `/group`, `/showgroupmembers`)
 * named is not there and one name `known` (not `self`, not the name typed
 * itself: the server just said it is not there) is close to it; `reply`
 * itself otherwise.
 */
export function withLikelyName(
  command: Command,
  reply: Reply,
  known: KnownNames,
  self: string,
): Reply {
  if (reply.t !== "error") return reply;
  const typed = reply.code === "no_such_user" && command.kind === "msg"
    ? { name: command.to, among: known.users }
    : reply.code === "no_such_group" &&
        (command.kind === "join" || command.kind === "gsay" ||
          command.kind === "members") &&
        command.group !== undefined
    ? { name: command.group, among: known.groups }
    : null;
  if (typed === null) return reply;
  const others = [...typed.among].filter((name) =>
    nameKey(name) !== nameKey(self) && nameKey(name) !== nameKey(typed.name)
  );
  const likely = onlyOneClose(typed.name, others);
  return likely === null
    ? reply
    : { ...reply, text: `${reply.text} Did you mean ${likely}?` };
}
