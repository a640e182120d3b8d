// This module is browser compatible.

/**
 * The replies every kind of chat message shares (router.ts for `msg`,
 * e2e_relay.ts for `e2e_msg`): the `ok` carrying where a message was stored,
 * the answer to a retry by client id, and the one safe way to echo a name.
 */

import type { MessagePosition } from "../store/store.ts";
import { type Outbound, reply } from "./outbound.ts";
import type { ConnId, Session } from "./session.ts";
import type { ServerState } from "./state.ts";

// The one safe way to echo a name: with the naming rule, as the client
// says the same refusals before it asks.
export { echoName as echo } from "../protocol/limits.ts";

/**
 * A chat message this user already sent with the same client id (a retry
 * after a lost reply): answered with where the first one was stored, and
 * not stored or sent again. Null when it is new.
 */
export function sentBefore(
  state: ServerState,
  session: Session,
  message: { id: number; cid?: string },
): Outbound[] | null {
  if (message.cid === undefined) return null;
  const position = state.store.sentWithClientId(session.nameKey, message.cid);
  if (position === undefined) return null;
  return reply(session.id, {
    t: "ok",
    re: message.id,
    text: "",
    id: position.id,
    seq: position.seq,
  });
}

/**
 * The `ok` for a chat message: with its position when it came with a cid,
 * and `name`, the recipient or group as registered (`/msg NANA` went to
 * "nana"), when it went to one.
 */
export function sent(
  to: ConnId,
  re: number,
  text: string,
  cid: string | undefined,
  position: MessagePosition,
  name?: string,
): Outbound[] {
  return reply(to, {
    t: "ok",
    re,
    text,
    ...(cid === undefined ? {} : { id: position.id, seq: position.seq }),
    ...(name === undefined ? {} : { name }),
  });
}

/** A message's client id for the store, when it has one. */
export function clientIdOf(cid: string | undefined): { clientId?: string } {
  return cid === undefined ? {} : { clientId: cid };
}

/** A chat message as its sender sent it (plain or end to end), to store. */
export interface SentChat {
  /** The request it came in, which the `ok` answers. */
  re: number;
  /** Its client id, by which a retry is recognised. */
  cid: string | undefined;
  body: Uint8Array;
  /** The key it was sealed with, for an end-to-end message. */
  e2eFingerprint?: string;
}

/** What a stored row keeps of `sending` beyond its body: client id and key. */
export function storedFieldsOf(
  sending: SentChat,
): { clientId?: string; e2eFingerprint?: string } {
  return {
    ...(sending.e2eFingerprint === undefined
      ? {}
      : { e2eFingerprint: sending.e2eFingerprint }),
    ...clientIdOf(sending.cid),
  };
}
