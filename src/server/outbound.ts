// This module is browser compatible.

/**
 * What the router's parts return: messages and who they are for, never sent
 * by them (the edge sends). The reply helpers live here so that every part
 * (router.ts, transfers.ts, e2e_keys.ts) builds them the same way without
 * importing the router.
 */

import type { ErrorCode, ServerMessage } from "../protocol/messages.ts";
import type { ConnId } from "./session.ts";

/**
 * One message for one or more connections. All recipients share one message
 * and one body so the edge can serialise it once. Never has an empty `to`.
 */
export interface Outbound {
  to: readonly ConnId[];
  message: ServerMessage;
  body?: Uint8Array;
}

/** One message for one connection. */
export function reply(to: ConnId, message: ServerMessage): Outbound[] {
  return [{ to: [to], message }];
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

/**
 * One message for `to`, or nothing when `to` is empty: callers never see an
 * Outbound that goes nowhere.
 */
export function send(
  to: readonly ConnId[],
  message: ServerMessage,
  body?: Uint8Array,
): Outbound[] {
  if (to.length === 0) return [];
  return [body === undefined ? { to, message } : { to, message, body }];
}
