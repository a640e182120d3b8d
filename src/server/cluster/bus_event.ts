// This module is browser compatible.

/**
 * What one node tells the others over the bus (issue 19, docs/SCALING.md):
 * a chat message routed there that users here are entitled to. Not the
 * origin's outbound message as it was sent: each node stores what it
 * delivers in its own store, under its own id and seq (remote_route.ts), so
 * that a client's positions all come from the one store it acknowledges to.
 *
 * Bytes on the bus: a 4-byte big-endian header length, the header as JSON,
 * then the body (opaque, as the sender sent it). Nodes trust one another
 * (they share the server key) but a decoder still checks every field: a bug
 * or an old node must not put a bad row in the store.
 */

import { FINGERPRINT_PATTERN } from "../../crypto/keys.ts";
import {
  isValidName,
  MAX_E2E_MESSAGE_BYTES,
  MAX_TEXT_BYTES,
  nameKey,
} from "../../protocol/limits.ts";
import type { Outbound } from "../outbound.ts";
import {
  groupSubject,
  NODE_ID_PATTERN,
  ROOM_SUBJECT,
  userSubject,
} from "./subjects.ts";

export type BusEvent =
  /** A public message; every node stores it and tells its room. */
  | {
    readonly kind: "public";
    readonly node: string;
    readonly from: string;
    readonly ts: number;
    readonly body: Uint8Array;
  }
  /** A private message to `to` (a name key), on the nodes they are on. */
  | {
    readonly kind: "private";
    readonly node: string;
    readonly from: string;
    readonly to: string;
    readonly ts: number;
    readonly body: Uint8Array;
  }
  /**
   * User `from` signed in on `node`: a node where they are signed in too
   * ends that session, as one server does when a key signs in again.
   */
  | {
    readonly kind: "signed_in";
    readonly node: string;
    readonly from: string;
    readonly ts: number;
  }
  /** A message to group `group` (its name), for its members on every node. */
  | {
    readonly kind: "group";
    readonly node: string;
    readonly from: string;
    readonly group: string;
    readonly ts: number;
    readonly body: Uint8Array;
  }
  /**
   * An end-to-end private message (`e2e_private`, PROTOCOL 11.7) to `to`:
   * the body is the envelope, opaque to every node; `fingerprint` is the
   * identity key its sender proved on their node.
   */
  | {
    readonly kind: "e2e_private";
    readonly node: string;
    readonly from: string;
    readonly to: string;
    readonly fingerprint: string;
    readonly ts: number;
    readonly body: Uint8Array;
  }
  /** An end-to-end group message (`e2e_group`, PROTOCOL 11.11). */
  | {
    readonly kind: "e2e_group";
    readonly node: string;
    readonly from: string;
    readonly group: string;
    readonly fingerprint: string;
    readonly ts: number;
    readonly body: Uint8Array;
  };

/** A bus event and the subject it goes to. */
export interface Crossing {
  readonly subject: string;
  readonly event: BusEvent;
}

/** Bumped when a field changes meaning: nodes drop what they cannot read. */
const VERSION = 1;

/**
 * The bus event for an outbound message other nodes' users are entitled
 * to, or null: public messages to the room, private messages (plain or end
 * to end) to a user not signed in here (`isLocal`), and group messages
 * (plain or end to end). Replies, history, presence and membership (their
 * buckets carry them) and what this slice does not share yet (files:
 * docs/SCALING.md) stay on this node.
 */
export function crossing(
  out: Outbound,
  node: string,
  isLocal: (nameKey: string) => boolean,
): Crossing | null {
  const { to, message, body } = out;
  if (body === undefined || Array.isArray(to)) return null;
  const address = to as Exclude<typeof to, readonly number[]>;
  if (message.t === "public" && address.kind === "room") {
    if (message.history === true) return null;
    return {
      subject: ROOM_SUBJECT,
      event: { kind: "public", node, from: message.from, ts: message.ts, body },
    };
  }
  if (
    message.t === "private" && address.kind === "user" &&
    message.history !== true && !isLocal(address.key)
  ) {
    return {
      subject: userSubject(address.key),
      event: {
        kind: "private",
        node,
        from: message.from,
        to: address.key,
        ts: message.ts,
        body,
      },
    };
  }
  if (
    message.t === "e2e_private" && address.kind === "user" &&
    message.history !== true && !isLocal(address.key)
  ) {
    return {
      subject: userSubject(address.key),
      event: {
        kind: "e2e_private",
        node,
        from: message.from,
        to: address.key,
        fingerprint: message.fingerprint,
        ts: message.ts,
        body,
      },
    };
  }
  if (
    message.t === "e2e_group" && address.kind === "group" &&
    message.history !== true
  ) {
    return {
      subject: groupSubject(address.key),
      event: {
        kind: "e2e_group",
        node,
        from: message.from,
        group: message.group,
        fingerprint: message.fingerprint,
        ts: message.ts,
        body,
      },
    };
  }
  if (
    message.t === "group" && address.kind === "group" &&
    message.history !== true
  ) {
    return {
      subject: groupSubject(address.key),
      event: {
        kind: "group",
        node,
        from: message.from,
        group: message.group,
        ts: message.ts,
        body,
      },
    };
  }
  return null;
}

/** The event telling other nodes that `name` signed in on `node`. */
export function signedIn(name: string, node: string, ts: number): Crossing {
  return {
    subject: userSubject(nameKey(name)),
    event: { kind: "signed_in", node, from: name, ts },
  };
}

export function encodeBusEvent(event: BusEvent): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({
    v: VERSION,
    k: event.kind,
    node: event.node,
    from: event.from,
    ts: event.ts,
    ...(event.kind === "private" || event.kind === "e2e_private"
      ? { to: event.to }
      : {}),
    ...(event.kind === "group" || event.kind === "e2e_group"
      ? { group: event.group }
      : {}),
    ...(event.kind === "e2e_private" || event.kind === "e2e_group"
      ? { fingerprint: event.fingerprint }
      : {}),
  }));
  const body = "body" in event ? event.body : new Uint8Array(0);
  const bytes = new Uint8Array(4 + header.byteLength + body.byteLength);
  new DataView(bytes.buffer).setUint32(0, header.byteLength);
  bytes.set(header, 4);
  bytes.set(body, 4 + header.byteLength);
  return bytes;
}

/** The event in `bytes`; throws a TypeError saying what is wrong. */
export function decodeBusEvent(bytes: Uint8Array): BusEvent {
  if (bytes.byteLength < 4) throw new TypeError("Bus event too short");
  const length = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  if (4 + length > bytes.byteLength) {
    throw new TypeError("Bus event header runs past its end");
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(
        bytes.subarray(4, 4 + length),
      ),
    );
  } catch {
    throw new TypeError("Bus event header is not JSON");
  }
  if (typeof header !== "object" || header === null) {
    throw new TypeError("Bus event header is not an object");
  }
  const h = header as Record<string, unknown>;
  if (h.v !== VERSION) throw new TypeError(`Bus event version ${h.v}`);
  const { node, from, ts } = h;
  if (typeof node !== "string" || !NODE_ID_PATTERN.test(node)) {
    throw new TypeError("Bus event has a bad node id");
  }
  if (typeof from !== "string" || !isValidName(from)) {
    throw new TypeError("Bus event has a bad sender");
  }
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) {
    throw new TypeError("Bus event has a bad time");
  }
  const body = bytes.slice(4 + length);
  if (h.k === "signed_in") {
    if (body.byteLength !== 0) throw new TypeError("Bus event has a body");
    return { kind: "signed_in", node, from, ts };
  }
  const e2e = h.k === "e2e_private" || h.k === "e2e_group";
  if (
    body.byteLength === 0 ||
    body.byteLength > (e2e ? MAX_E2E_MESSAGE_BYTES : MAX_TEXT_BYTES)
  ) {
    throw new TypeError("Bus event has an empty or oversized body");
  }
  const fingerprint = h.fingerprint;
  if (
    e2e && (typeof fingerprint !== "string" ||
      !FINGERPRINT_PATTERN.test(fingerprint))
  ) {
    throw new TypeError("Bus event has a bad fingerprint");
  }
  switch (h.k) {
    case "public":
      return { kind: "public", node, from, ts, body };
    case "private":
      return { kind: "private", node, from, to: recipientOf(h), ts, body };
    case "group":
      return { kind: "group", node, from, group: groupOf(h), ts, body };
    case "e2e_private":
      return {
        kind: "e2e_private",
        node,
        from,
        to: recipientOf(h),
        fingerprint: fingerprint as string,
        ts,
        body,
      };
    case "e2e_group":
      return {
        kind: "e2e_group",
        node,
        from,
        group: groupOf(h),
        fingerprint: fingerprint as string,
        ts,
        body,
      };
    default:
      throw new TypeError(`Unknown bus event kind ${JSON.stringify(h.k)}`);
  }
}

function recipientOf(h: Record<string, unknown>): string {
  const to = h.to;
  if (typeof to !== "string" || !isValidName(to) || nameKey(to) !== to) {
    throw new TypeError("Bus event has a bad recipient");
  }
  return to;
}

function groupOf(h: Record<string, unknown>): string {
  const group = h.group;
  if (typeof group !== "string" || !isValidName(group)) {
    throw new TypeError("Bus event has a bad group");
  }
  return group;
}
