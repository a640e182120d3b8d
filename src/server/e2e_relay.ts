// This module is browser compatible.

/**
 * End-to-end private messages as the server relays them (issue 17 item 2;
 * docs/PROTOCOL.md 11.7): `e2e_msg` in, `e2e_private` out, stored as a
 * private message whose body is the envelope, so that positions, waiting
 * deliveries, acknowledgements and retries by `cid` work as for `msg`.
 *
 * The server checks the routing header and the body's size, never the
 * envelope: it cannot read it, and a client must not trust the server's
 * opinion of it anyway. What it adds is the sender's name and the
 * fingerprint of the identity key the sender proved at sign-in; the
 * recipient checks both against the envelope (a forged sender does not
 * decrypt).
 */

import { MAX_E2E_MESSAGE_BYTES, nameKey } from "../protocol/limits.ts";
import type { ClientMessage, Timestamp } from "../protocol/messages.ts";
import type { StoredMessage } from "../store/store.ts";
import { sentBefore } from "./chat_replies.ts";
import { deliverPrivate, privateRecipient } from "./private_delivery.ts";
import { connection, fail, type Outbound } from "./outbound.ts";
import type { Session } from "./session.ts";
import type { ServerState } from "./state.ts";

type E2eMsg = Extract<ClientMessage, { t: "e2e_msg" }>;

/** Whether an end-to-end message is routed: its sender's proven key, or the answers instead. */
export type E2eAdmission =
  | { ok: true; fingerprint: string }
  | { ok: false; replies: Outbound[] };

/**
 * What both end-to-end relays check before routing: a retry gets its
 * earlier answer; no proven identity key, an empty or oversized body, or a
 * full store is refused.
 */
export function admitE2e(
  state: ServerState,
  session: Session,
  message: E2eMsg | Extract<ClientMessage, { t: "e2e_gsay" }>,
  body: Uint8Array,
): E2eAdmission {
  const re = message.id;
  const refuse = (replies: Outbound[]): E2eAdmission => ({
    ok: false,
    replies,
  });
  const retry = sentBefore(state, session, message);
  if (retry !== null) return refuse(retry);
  const fingerprint = session.fingerprint;
  if (fingerprint === null) {
    return refuse(fail(
      session.id,
      re,
      "identity",
      "ERROR: End-to-end messages need a proven identity key",
    ));
  }
  if (body.byteLength === 0) {
    return refuse(fail(session.id, re, "empty", "ERROR: Message is empty"));
  }
  if (body.byteLength > MAX_E2E_MESSAGE_BYTES) {
    return refuse(fail(
      session.id,
      re,
      "too_long",
      `ERROR: An end-to-end message is at most ${MAX_E2E_MESSAGE_BYTES} bytes`,
    ));
  }
  if (state.store.full()) {
    return refuse(fail(
      session.id,
      re,
      "limit",
      "ERROR: The server's storage is full; ask the host to make room",
    ));
  }
  return { ok: true, fingerprint };
}

/** Handles `e2e_msg`. Never throws on client input. */
export function routeE2eMessage(
  state: ServerState,
  session: Session,
  message: E2eMsg,
  body: Uint8Array,
  now: Timestamp,
): Outbound[] {
  const re = message.id;
  const admitted = admitE2e(state, session, message, body);
  if (!admitted.ok) return admitted.replies;
  const fingerprint = admitted.fingerprint;
  const recipientOf = privateRecipient(state, session, re, message.to);
  if (Array.isArray(recipientOf)) return recipientOf;
  const { known, recipient, elsewhere } = recipientOf;
  // Sealed for another key than the one the name is bound to now (the
  // name was released and taken again): the sender must hear of it, or it
  // would go on using a session nobody can open.
  const bound = recipient?.fingerprint ?? elsewhere?.fingerprint ??
    state.store.getUser(nameKey(known))?.fingerprint ?? null;
  if (bound !== null && bound !== message.fingerprint) {
    return fail(
      session.id,
      re,
      "identity",
      `ERROR: ${known}'s identity key is not the one this message is sealed for: it is now ${bound}`,
    );
  }
  return deliverPrivate(
    state,
    session,
    recipientOf,
    { re, cid: message.cid, body, e2eFingerprint: fingerprint },
    (position) => ({
      t: "e2e_private",
      from: session.name,
      fingerprint,
      ts: now,
      id: position.id,
      seq: position.seq,
    }),
    now,
  );
}

/**
 * A stored end-to-end message as `viewer` gets it again (missed, or asked
 * for with `history` request `req`); null for any other message.
 */
export function e2eHistory(
  viewer: Session,
  message: StoredMessage,
  req?: number,
): Outbound | null {
  if (message.kind !== "private" || message.e2eFingerprint === undefined) {
    return null;
  }
  const common = {
    t: "e2e_private",
    from: message.fromName,
    fingerprint: message.e2eFingerprint,
    ts: message.ts,
    id: message.id,
    seq: message.seq,
    ...(req === undefined ? {} : { req }),
    history: true,
  } as const;
  return {
    to: connection(viewer.id),
    // The recipient is named only when it is not the viewer.
    message: message.toKey === viewer.nameKey
      ? common
      : { ...common, to: message.toName },
    body: message.body,
  };
}
