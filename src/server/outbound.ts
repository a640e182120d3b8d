// This module is browser compatible.

/**
 * What the router's parts return: messages and who they are for, never sent
 * by them (the edge sends). The reply helpers live here so that every part
 * (router.ts, transfers.ts, e2e_keys.ts) builds them the same way without
 * importing the router.
 */

import type { ErrorCode, ServerMessage } from "../protocol/messages.ts";
import type { Group } from "./group.ts";
import type { ConnId } from "./session.ts";

/**
 * Who a message is for, as the routing core decides it: a user, a group or
 * the public room rather than connections, because where their connections
 * are (this process or another node) is the delivery layer's business
 * (recipients.ts resolves an address to this process's connections). Only a
 * reply to the connection that asked is addressed to that connection.
 *
 * `except` is a user's name key: the sender, who is not sent their own
 * message.
 */
export type Address =
  | { readonly kind: "connection"; readonly id: ConnId }
  | { readonly kind: "user"; readonly key: string }
  | { readonly kind: "group"; readonly key: string; readonly except?: string }
  | { readonly kind: "room"; readonly except?: string };

/**
 * An address, or connections of this process by id: what file transfers
 * still use, their recipients being the connections that accepted.
 * TODO(#19): transfers addressed to users too, for files across nodes.
 */
export type Recipients = Address | readonly ConnId[];

/**
 * One message for its recipients. All of them share one message and one
 * body so the edge can serialise it once. Goes to no one when the address
 * resolves to no connection (an empty room); never has an empty list.
 */
export interface Outbound {
  to: Recipients;
  message: ServerMessage;
  body?: Uint8Array;
}

/** The connection `id`. */
export function connection(id: ConnId): Address {
  return { kind: "connection", id };
}

/** One message for one connection. */
export function reply(to: ConnId, message: ServerMessage): Outbound[] {
  return [{ to: connection(to), message }];
}

/** An `ok` answering request `re`. */
export function ok(to: ConnId, re: number, text: string): Outbound[] {
  return reply(to, { t: "ok", re, text });
}

/** An `error` answering request `re` (null when it had no id). */
export function fail(
  to: ConnId,
  re: number | null,
  code: ErrorCode,
  text: string,
): Outbound[] {
  return reply(to, { t: "error", re, code, text });
}

/** A request about a group the user is not in (router.ts, transfers.ts). */
export function notMember(to: ConnId, re: number, group: Group): Outbound[] {
  return fail(
    to,
    re,
    "not_member",
    `ERROR: You are not a member of group '${group.name}'. Join it with /join ${group.name}`,
  );
}

/** One message for an address. */
export function send(
  to: Address,
  message: ServerMessage,
  body?: Uint8Array,
): Outbound[] {
  return [body === undefined ? { to, message } : { to, message, body }];
}
