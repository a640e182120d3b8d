/**
 * A private message's way through the server, plain (`msg`, router.ts) or
 * end to end (`e2e_msg`, e2e_relay.ts) alike: who it is for, then stored
 * and passed on. The two differ only in what they check of the body and in
 * the message the recipient gets.
 *
 * This module is browser compatible.
 */

import { nameKey } from "../protocol/limits.ts";
import type { ServerMessage, Timestamp } from "../protocol/messages.ts";
import type { MessagePosition } from "../store/store.ts";
import { echo, sent, type SentChat, storedFieldsOf } from "./chat_replies.ts";
import { fail, type Outbound } from "./outbound.ts";
import type { RemoteUser } from "./remote_users.ts";
import type { Session } from "./session.ts";
import type { ServerState } from "./state.ts";

/** Whom a private message to a name goes to. */
export interface PrivateRecipient {
  /** The name as it is spelled where it is known. */
  known: string;
  /** Their connection here, when they are signed in here. */
  recipient: Session | undefined;
  /**
   * Signed in on another node of a cluster: that node sends it to them from
   * the shared log (log_apply.ts), so it is not owed to them here.
   */
  elsewhere: RemoteUser | undefined;
}

/**
 * Who `to` is: signed in here, on another node, or known but offline (they
 * get it when they next connect); `no_such_user` to request `re` if nobody
 * by that name is known.
 */
export function privateRecipient(
  state: ServerState,
  session: Session,
  re: number,
  to: string,
): PrivateRecipient | Outbound[] {
  const recipient = state.sessionByName(to);
  const elsewhere = recipient === undefined
    ? state.remote.get(nameKey(to))
    : undefined;
  const known = recipient !== undefined
    ? recipient.name
    : elsewhere?.name ?? state.knownUser(to);
  if (known === null) {
    const shown = echo(to);
    return fail(
      session.id,
      re,
      "no_such_user",
      shown === null
        ? "ERROR: No user with that name is online."
        : `ERROR: User ${shown} is not online.`,
    );
  }
  return { known, recipient, elsewhere };
}

/**
 * Stores a private message from `session` to `to` and returns the sender's
 * `ok` to request `re` (with the recipient's away reason, once per sender,
 * or that they are offline) and the recipient's copy (`copy` at the
 * message's place in the log) for their connection or their node.
 */
export function deliverPrivate(
  state: ServerState,
  session: Session,
  to: PrivateRecipient,
  sending: SentChat,
  copy: (position: MessagePosition) => ServerMessage,
  now: Timestamp,
): Outbound[] {
  const { known, recipient, elsewhere } = to;
  const { re, cid, body } = sending;
  state.recordMessage(session.id, now);
  if (elsewhere !== undefined) {
    // Its row here (the recipient may be unknown to this store) and the
    // sender's history; the copy owed to the recipient is the other node's.
    state.store.ensureUser(elsewhere.name, elsewhere.nameKey, now);
  }
  const position = state.store.appendMessage({
    kind: "private",
    toKey: nameKey(known),
    ts: now,
    fromKey: session.nameKey,
    fromName: session.name,
    body,
    ...storedFieldsOf(sending),
    recipients: [{
      userKey: nameKey(known),
      // One that acknowledges has it wait until it does.
      delivered: elsewhere !== undefined ||
        (recipient !== undefined && !recipient.acks),
    }],
  });
  if (elsewhere !== undefined) {
    return [
      ...sent(session.id, re, "", cid, position, known),
      {
        to: { kind: "user", key: elsewhere.nameKey },
        message: copy(position),
        body,
      },
    ];
  }
  if (recipient === undefined) {
    return sent(
      session.id,
      re,
      `${known} is offline; the message will be delivered when they connect.`,
      cid,
      position,
      known,
    );
  }
  // The away reason is told to each sender once (docs/PROTOCOL.md, "Away").
  const away = recipient.away !== null &&
      state.tellAway(recipient.id, session.nameKey)
    ? `${recipient.name} is away: ${recipient.away}`
    : "";
  return [
    ...sent(session.id, re, away, cid, position, known),
    {
      to: { kind: "user", key: recipient.nameKey },
      message: copy(position),
      body,
    },
  ];
}
