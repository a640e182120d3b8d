// This module is browser compatible.

/**
 * What a request weighs against the rate limit (docs/PROTOCOL.md 5.8) when
 * its reply names many users or groups: `list`, `groups` and `members`.
 *
 * Such a reply is up to 255 KiB of JSON, built, encoded and sealed for one
 * request, and each counted as one message like a `ping`: with thousands of
 * users online, one address asking at its message rate held a large share
 * of the server's thread, and a few addresses all of it, while a `history`
 * reply of the same size is held to 3 a second per address. Now such a request takes
 * a token per NAMES_PER_TOKEN names its reply may carry, as an `ack` pays
 * for its cursors (message_rate.ts ackWeight): the rate then holds for the
 * work, not the count. A reply naming fewer than NAMES_PER_TOKEN (a class,
 * a group) still takes one.
 *
 * The weight is decided before the request is routed, for one refused too,
 * so it is read from counts the state keeps (O(1), or one size for each of
 * the few groups a `members` reply shows), never by a pass over users or
 * groups: a flood of refused requests must not cost more than the
 * parse each costs anyway.
 */

import {
  MAX_GROUPS_SHOWN,
  MAX_LIST_ITEMS,
  MAX_MEMBERS_SHOWN,
} from "../protocol/limits.ts";
import type { ClientMessage } from "../protocol/messages.ts";
import type { ConnId } from "./session.ts";
import type { ServerState } from "./state.ts";

/** Names of a reply that cost one token. */
export const NAMES_PER_TOKEN = 256;

/** The tokens a request whose reply names `names` users or groups takes. */
export function namesWeight(names: number): number {
  return 1 + Math.floor(names / NAMES_PER_TOKEN);
}

/**
 * The most names connection `id`'s `message` may have named in its reply,
 * were it routed now; 0 for a request of another kind.
 */
export function namesInReply(
  state: ServerState,
  id: ConnId,
  message: ClientMessage,
): number {
  switch (message.t) {
    case "list":
      // Online here, and elsewhere in a cluster (some maybe both).
      return Math.min(
        state.onlineIds().length + state.remote.size,
        MAX_LIST_ITEMS,
      );
    case "groups":
      return Math.min(state.groupCount, MAX_LIST_ITEMS);
    case "members": {
      if (message.group !== undefined) {
        const size = state.group(message.group)?.members.size ?? 0;
        return Math.min(size, MAX_MEMBERS_SHOWN);
      }
      // The groups the reply shows (the requester's first ones, in creation
      // order) and the members shown of each: what it can really hold, and
      // what building it costs (router.ts reads no more). Reading these
      // sizes is MAX_GROUPS_SHOWN steps at most.
      const name = state.nameOf(id);
      if (name === null) return 0;
      let names = 0;
      for (const group of state.firstGroupsOf(name, MAX_GROUPS_SHOWN)) {
        names += 1 + Math.min(group.members.size, MAX_MEMBERS_SHOWN);
      }
      return names;
    }
    default:
      return 0;
  }
}
