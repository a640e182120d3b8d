// This module is browser compatible.

/**
 * The delivery layer's half that knows this process: which of its
 * connections an address reaches now. The routing core addresses users,
 * groups and the room (outbound.ts); a node of several (issue 19) would
 * resolve the same addresses here for its own connections and publish them
 * to the others for theirs.
 *
 * Resolving the room allocates nothing per message: it is the state's
 * cached list of everyone, or of everyone but the sender.
 */

import type { Recipients } from "./outbound.ts";
import type { ConnId } from "./session.ts";
import type { ServerState } from "./state.ts";

const NOBODY: readonly ConnId[] = Object.freeze([]);

/**
 * The connections of this process that `to` reaches, in connection order
 * (members in join order); empty when none. Callers must not change the
 * array (it may be the state's cache).
 */
export function recipients(
  state: ServerState,
  to: Recipients,
): readonly ConnId[] {
  if (isConnectionList(to)) return to;
  switch (to.kind) {
    case "connection":
      // Whether it is still open is the edge's to know.
      return [to.id];
    case "user": {
      const session = state.sessionByName(to.key);
      return session === undefined ? NOBODY : [session.id];
    }
    case "room": {
      const sender = to.except === undefined
        ? undefined
        : state.sessionByName(to.except);
      return sender === undefined
        ? state.onlineIds()
        : state.onlineIdsExcept(sender.id);
    }
    case "group": {
      const group = state.group(to.key);
      if (group === undefined) return NOBODY;
      const ids: ConnId[] = [];
      for (const member of state.onlineMembers(group)) {
        if (member.nameKey !== to.except) ids.push(member.id);
      }
      return ids;
    }
    default: {
      const unknown: never = to;
      throw new TypeError(`Unknown address ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * Whether `to` reaches connection `id`: recipients(state, to).includes(id)
 * without building the list.
 */
export function reaches(
  state: ServerState,
  to: Recipients,
  id: ConnId,
): boolean {
  if (isConnectionList(to)) {
    return to.length === 1 ? to[0] === id : to.includes(id);
  }
  switch (to.kind) {
    case "connection":
      return to.id === id;
    case "user":
      return state.session(id)?.nameKey === to.key;
    case "room": {
      const session = state.session(id);
      return session !== undefined && session.nameKey !== to.except;
    }
    case "group": {
      const session = state.session(id);
      const group = state.group(to.key);
      return session !== undefined && group !== undefined &&
        session.nameKey !== to.except && group.members.has(session.nameKey);
    }
    default: {
      const unknown: never = to;
      throw new TypeError(`Unknown address ${JSON.stringify(unknown)}`);
    }
  }
}

function isConnectionList(to: Recipients): to is readonly ConnId[] {
  return Array.isArray(to);
}
