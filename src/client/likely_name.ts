// This module is browser compatible.

/**
 * "Did you mean jojo?" after the server's answer that nobody of the name
 * typed is online (`/msg jojp hi`), or that no group of that name exists
 * (`/join hahq`): the server's words kept as they are (the seed's), the
 * name likely meant added when exactly one name known is a slip away from
 * it (`/file jojp notes.txt` too). Worked out here, from the names this
 * client already follows, so the server does no search for anyone's typo.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import type { Command } from "./commands.ts";
import type { Reply } from "./chat_client.ts";
import { onlyOneClose } from "./did_you_mean.ts";
import type { SessionEvent } from "./session_events.ts";

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
  const typed = command.kind === "msg"
    ? { to: command.to }
    : (command.kind === "join" || command.kind === "gsay" ||
        command.kind === "members") &&
        command.group !== undefined
    ? { group: command.group }
    : null;
  if (typed === null) return reply;
  const likely = likelyName(reply.code, typed, known, self);
  return likely === null
    ? reply
    : { ...reply, text: `${reply.text} Did you mean ${likely}?` };
}

/**
 * The outcome of `/file jojp notes.txt` (or `/groupfile hahq notes.txt`),
 * with the name likely meant added as withLikelyName adds it to `/msg`'s.
 */
export function withLikelyRecipient(
  event: FileSent,
  known: KnownNames,
  self: string,
): FileSent {
  const { outcome } = event;
  if (outcome.kind !== "refused" || outcome.code === undefined) return event;
  const likely = likelyName(outcome.code, event.target, known, self);
  return likely === null ? event : {
    ...event,
    outcome: { ...outcome, text: `${outcome.text} Did you mean ${likely}?` },
  };
}

/**
 * The name likely meant by the user or group `typed` when this client does
 * not know it itself and exactly one name `known` is a slip away from it
 * (as withLikelyName finds it); null otherwise. For the web page's
 * `/file jojp notes.txt`, which reaches no server (a page cannot read a
 * path) and so gets no no_such_user to add it to.
 */
export function likelyNameForUnknown(
  typed: { to: string } | { group: string },
  known: KnownNames,
  self: string,
): string | null {
  const [name, among, code] = "to" in typed
    ? [typed.to, known.users, "no_such_user"]
    : [typed.group, known.groups, "no_such_group"];
  const names = [...among];
  if (names.some((other) => nameKey(other) === nameKey(name))) return null;
  return likelyName(code, typed, { users: names, groups: names }, self);
}

/**
 * The one name `known` a slip away from the user or group the server
 * answered `code` (no_such_user, no_such_group) of; null for any other
 * answer, or when none or several are close.
 */
function likelyName(
  code: string,
  typed: { to: string } | { group: string },
  known: KnownNames,
  self: string,
): string | null {
  const named = code === "no_such_user" && "to" in typed
    ? { name: typed.to, among: known.users }
    : code === "no_such_group" && "group" in typed
    ? { name: typed.group, among: known.groups }
    : null;
  if (named === null) return null;
  const others = [...named.among].filter((name) =>
    nameKey(name) !== nameKey(self) && nameKey(name) !== nameKey(named.name)
  );
  return onlyOneClose(named.name, others);
}

type FileSent = Extract<SessionEvent, { type: "file_sent" }>;
