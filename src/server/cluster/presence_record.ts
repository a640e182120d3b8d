// This module is browser compatible.

/**
 * A user's presence as a node writes it to the presence bucket
 * (subjects.ts): JSON, read back by every other node. Nodes trust one
 * another, but a record is checked field by field before it reaches `/list`.
 */

import { isValidName, MAX_AWAY_CHARS, nameKey } from "../../protocol/limits.ts";
import type { RemoteUser } from "../remote_users.ts";
import type { Session } from "../session.ts";
import { NODE_ID_PATTERN } from "./subjects.ts";

/** What a node writes for one of its sessions. */
export function presenceRecord(session: Session, node: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    name: session.name,
    node,
    connectedAt: session.connectedAt,
    lastMessageAt: session.lastMessageAt,
    fingerprint: session.fingerprint,
    away: session.away,
  }));
}

/** The user a record describes; throws a TypeError when it is not one. */
export function parsePresenceRecord(bytes: Uint8Array): RemoteUser {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new TypeError("Presence record is not JSON");
  }
  if (typeof value !== "object" || value === null) {
    throw new TypeError("Presence record is not an object");
  }
  const r = value as Record<string, unknown>;
  const { name, node, connectedAt, lastMessageAt, fingerprint, away } = r;
  if (typeof name !== "string" || !isValidName(name)) {
    throw new TypeError("Presence record has a bad name");
  }
  if (typeof node !== "string" || !NODE_ID_PATTERN.test(node)) {
    throw new TypeError("Presence record has a bad node id");
  }
  if (!isTime(connectedAt)) {
    throw new TypeError("Presence record has a bad connection time");
  }
  if (lastMessageAt !== null && !isTime(lastMessageAt)) {
    throw new TypeError("Presence record has a bad last message time");
  }
  if (
    fingerprint !== null &&
    (typeof fingerprint !== "string" ||
      !/^SHA256:[A-Za-z0-9+/]{43}$/.test(fingerprint))
  ) {
    throw new TypeError("Presence record has a bad fingerprint");
  }
  if (
    away !== null &&
    (typeof away !== "string" || away.length > MAX_AWAY_CHARS)
  ) {
    throw new TypeError("Presence record has a bad away reason");
  }
  return {
    name,
    nameKey: nameKey(name),
    node,
    connectedAt,
    lastMessageAt,
    fingerprint,
    away,
  };
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
