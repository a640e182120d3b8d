// This module is browser compatible.

/**
 * End-to-end group messages as the server relays them (issue 17 item 3;
 * docs/PROTOCOL.md 11.11): `e2e_gsay` in, `e2e_group` out, stored as a group
 * message whose body is sealed on the sender's chain, so that positions,
 * waiting deliveries, acknowledgements, history and retries by `cid` work as
 * for `gsay`.
 *
 * The server checks the routing header, membership and the body's size, never
 * the body: it has no chain key, and a client must not trust its opinion of
 * the message anyway (the chain's signature says who wrote it). What it adds
 * is the sender's name and the fingerprint of the identity key the sender
 * proved at sign-in.
 */

import type { ClientMessage, Timestamp } from "../protocol/messages.ts";
import type { StoredMessage } from "../store/store.ts";
import { deliverGroup, noSuchGroup } from "./group_delivery.ts";
import { admitE2e } from "./e2e_relay.ts";
import { connection, fail, notMember, type Outbound } from "./outbound.ts";
import type { Session } from "./session.ts";
import type { ServerState } from "./state.ts";

type E2eGsay = Extract<ClientMessage, { t: "e2e_gsay" }>;

/** Handles `e2e_gsay`. Never throws on client input. */
export function routeE2eGroup(
  state: ServerState,
  session: Session,
  message: E2eGsay,
  body: Uint8Array,
  now: Timestamp,
): Outbound[] {
  const re = message.id;
  const admitted = admitE2e(state, session, message, body);
  if (!admitted.ok) return admitted.replies;
  const fingerprint = admitted.fingerprint;
  const group = state.group(message.group);
  if (group === undefined) return noSuchGroup(session.id, re, message.group);
  if (!state.isMember(group, session.name)) {
    return notMember(session.id, re, group);
  }
  // Someone joined or left since the `members` reply the sender's chain
  // was given by: a member who joined would get a message sealed before
  // they had the chain, and could never open it (on a cluster, a join made
  // on another node reaches this one's list a moment later). The sender
  // asks again, gives them the chain, and seals anew.
  if (message.tag !== undefined && message.tag !== state.membersTag(group)) {
    return fail(
      session.id,
      re,
      "members_changed",
      `ERROR: The members of ${group.name} changed while the message was on its way: not sent`,
    );
  }
  // Every member is entitled to it, as to a `gsay`; only those whose
  // clients were given the sender's chain can open it.
  return deliverGroup(
    state,
    session,
    group,
    { re, cid: message.cid, body, e2eFingerprint: fingerprint },
    (position) => ({
      t: "e2e_group",
      group: group.name,
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
 * A stored end-to-end group message as `viewer` gets it again (missed, or
 * asked for with `history` request `req`); null for any other message.
 */
export function e2eGroupHistory(
  viewer: Session,
  message: StoredMessage,
  req?: number,
): Outbound | null {
  if (message.kind !== "group" || message.e2eFingerprint === undefined) {
    return null;
  }
  return {
    to: connection(viewer.id),
    message: {
      t: "e2e_group",
      group: message.groupName,
      from: message.fromName,
      fingerprint: message.e2eFingerprint,
      ts: message.ts,
      id: message.id,
      seq: message.seq,
      ...(req === undefined ? {} : { req }),
      history: true,
    },
    body: message.body,
  };
}
