/**
 * A group message's way through the server, plain (`gsay`, router.ts) or
 * end to end (`e2e_gsay`, e2e_group_relay.ts) alike: stored for every other
 * member and passed on to the group. The two differ only in what they check
 * first and in the message the members get.
 *
 * This module is browser compatible.
 */

import type { ServerMessage, Timestamp } from "../protocol/messages.ts";
import type { MessagePosition } from "../store/store.ts";
import { echo, sent, type SentChat, storedFieldsOf } from "./chat_replies.ts";
import type { Group } from "./group.ts";
import { fail, type Outbound } from "./outbound.ts";
import type { ConnId, Session } from "./session.ts";
import type { ServerState } from "./state.ts";

/** `no_such_group` to request `re`, naming `name` when it is a valid name. */
export function noSuchGroup(
  from: ConnId,
  re: number,
  name: string,
): Outbound[] {
  const shown = echo(name);
  return fail(
    from,
    re,
    "no_such_group",
    shown === null
      ? "ERROR: No group with that name exists."
      : `ERROR: Group ${shown} does not exist.`,
  );
}

/**
 * Stores a message from `session` to `group` and returns the sender's `ok`
 * to request `re` and the members' copy (`copy` at the message's place in
 * the log). Every other member is owed it: those offline get it when they
 * connect, those that acknowledge have it wait until they do.
 */
export function deliverGroup(
  state: ServerState,
  session: Session,
  group: Group,
  sending: SentChat,
  copy: (position: MessagePosition) => ServerMessage,
  now: Timestamp,
): Outbound[] {
  const { re, cid, body } = sending;
  state.recordMessage(session.id, now);
  const position = state.store.appendMessage({
    kind: "group",
    groupKey: group.key,
    ts: now,
    fromKey: session.nameKey,
    fromName: session.name,
    body,
    ...storedFieldsOf(sending),
    recipients: [...group.members.keys()]
      .filter((key) => key !== session.nameKey)
      .map((key) => {
        const here = state.sessionByName(key);
        return {
          userKey: key,
          // Owed here to one that acknowledges; one on another node of a
          // cluster is owed it there (log_apply.ts).
          delivered: here !== undefined
            ? !here.acks
            : state.remote.size > 0 && state.remote.get(key) !== undefined,
        };
      }),
  });
  return [
    ...sent(session.id, re, "", cid, position, group.name),
    {
      to: { kind: "group", key: group.key, except: session.nameKey },
      message: copy(position),
      body,
    },
  ];
}
