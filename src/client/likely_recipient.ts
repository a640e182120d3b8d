// This module is browser compatible.

/**
 * "Did you mean jojo?" after the server's answer that nobody of the name
 * typed is online (`/msg jojp hi`): the server's words kept as they are
 * (the seed's), the name likely meant added when exactly one name online
 * is a slip away from it. Worked out here, from the names this client
 * already follows, so the server does no search for anyone's typo.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import type { Reply } from "./chat_client.ts";
import { onlyOneClose } from "./did_you_mean.ts";

/**
 * `reply` to a private message to `to`, with the name likely meant added
 * when it says nobody of that name is online and one name of `online`
 * (not `self`, not `to` itself: the server just said it is not there) is
 * close to it; `reply` itself otherwise.
 */
export function withLikelyRecipient(
  reply: Reply,
  to: string,
  online: Iterable<string>,
  self: string,
): Reply {
  if (reply.t !== "error" || reply.code !== "no_such_user") return reply;
  const others = [...online].filter((name) =>
    nameKey(name) !== nameKey(self) && nameKey(name) !== nameKey(to)
  );
  const likely = onlyOneClose(to, others);
  return likely === null
    ? reply
    : { ...reply, text: `${reply.text} Did you mean ${likely}?` };
}
