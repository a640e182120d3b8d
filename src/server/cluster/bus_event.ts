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
  FILE_CHUNK_TAG_BYTES,
  isValidName,
  MAX_E2E_MESSAGE_BYTES,
  MAX_FILE_CHUNK_BYTES,
  MAX_TEXT_BYTES,
  nameKey,
} from "../../protocol/limits.ts";
import {
  parseClientMessage,
  parseServerMessage,
} from "../../protocol/codec.ts";
import type { ServerMessage } from "../../protocol/messages.ts";
import type { Outbound } from "../outbound.ts";
import type { RemoteRecipient } from "../remote_recipients.ts";
import type { ConnId } from "../session.ts";
import type { FileAnswer } from "../transfers.ts";
import {
  groupSubject,
  NODE_ID_PATTERN,
  ROOM_SUBJECT,
  transferSubject,
  userSubject,
} from "./subjects.ts";

/** What the sender's node of a transfer tells a recipient's node. */
export type FileToRecipient = Extract<
  ServerMessage,
  { t: "file_offer" | "file_chunk" | "file_end" | "file_cancel" }
>;

const FILE_TO_RECIPIENT = new Set([
  "file_offer",
  "file_chunk",
  "file_end",
  "file_cancel",
]);

const FILE_ANSWERS = new Set([
  "file_accept",
  "file_decline",
  "file_ack",
  "file_done",
  "file_cancel",
]);

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
  /**
   * A transfer run on `node` (its sender's), for recipient `from` signed in
   * on the node this goes to: the message as that node's transfer logic
   * addressed it to them (its `xfer` that node's), the chunk in `body`
   * (empty for the others), sealed by the sender: no node reads it.
   */
  | {
    readonly kind: "file";
    readonly node: string;
    readonly from: string;
    readonly ts: number;
    readonly message: FileToRecipient;
    readonly body: Uint8Array;
  }
  /**
   * What recipient `from`, on `node`, says about transfer `xfer` of the node
   * this goes to: their answer, with that transfer's id; null when they
   * are gone (signed out, or disconnected).
   */
  | {
    readonly kind: "file_answer";
    readonly node: string;
    readonly from: string;
    readonly ts: number;
    readonly xfer: number;
    readonly answer: FileAnswer | null;
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

/**
 * The bus events for a transfer's message to recipients on other nodes
 * (stand-in ids, remote_recipients.ts), one per recipient, on their user
 * subjects; none for anything else.
 */
export function fileCrossings(
  out: Outbound,
  node: string,
  remoteOf: (id: ConnId) => RemoteRecipient | undefined,
  now: number,
): Crossing[] {
  const { to, message } = out;
  if (!Array.isArray(to) || !isFileToRecipient(message)) return [];
  const crossings: Crossing[] = [];
  for (const id of to as readonly ConnId[]) {
    if (id >= 0) continue;
    const recipient = remoteOf(id);
    if (recipient === undefined) continue;
    crossings.push({
      subject: userSubject(recipient.nameKey),
      event: {
        kind: "file",
        node,
        from: recipient.name,
        ts: now,
        message,
        body: out.body ?? new Uint8Array(0),
      },
    });
  }
  return crossings;
}

/** A recipient's answer (or that they are gone) for the sender's node. */
export function fileAnswer(
  senderNode: string,
  xfer: number,
  node: string,
  from: string,
  answer: FileAnswer | null,
  now: number,
): Crossing {
  return {
    subject: transferSubject(senderNode, xfer),
    event: { kind: "file_answer", node, from, ts: now, xfer, answer },
  };
}

function isFileToRecipient(message: ServerMessage): message is FileToRecipient {
  return FILE_TO_RECIPIENT.has(message.t);
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
    ...(event.kind === "file" ? { m: event.message } : {}),
    ...(event.kind === "file_answer"
      ? { xfer: event.xfer, m: event.answer }
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
  if (h.k === "file") return decodeFile(node, from, ts, h.m, body);
  if (h.k === "file_answer") {
    if (body.byteLength !== 0) throw new TypeError("Bus event has a body");
    return decodeFileAnswer(node, from, ts, h.xfer, h.m);
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

function decodeFile(
  node: string,
  from: string,
  ts: number,
  m: unknown,
  body: Uint8Array,
): BusEvent {
  let message: ServerMessage;
  try {
    message = parseServerMessage(m);
  } catch (error) {
    throw new TypeError(
      `Bus event has a bad file message: ${messageOf(error)}`,
    );
  }
  if (!isFileToRecipient(message)) {
    throw new TypeError("Bus event has a message that is not for a recipient");
  }
  const chunk = message.t === "file_chunk";
  if (
    chunk
      ? body.byteLength <= FILE_CHUNK_TAG_BYTES ||
        body.byteLength > MAX_FILE_CHUNK_BYTES + FILE_CHUNK_TAG_BYTES
      : body.byteLength !== 0
  ) {
    throw new TypeError("Bus event has a bad file body");
  }
  return { kind: "file", node, from, ts, message, body };
}

function decodeFileAnswer(
  node: string,
  from: string,
  ts: number,
  xfer: unknown,
  m: unknown,
): BusEvent {
  if (typeof xfer !== "number" || !Number.isSafeInteger(xfer) || xfer < 1) {
    throw new TypeError("Bus event has a bad transfer id");
  }
  if (m === null) {
    return { kind: "file_answer", node, from, ts, xfer, answer: null };
  }
  let answer;
  try {
    answer = parseClientMessage(m);
  } catch (error) {
    throw new TypeError(`Bus event has a bad file answer: ${messageOf(error)}`);
  }
  if (!FILE_ANSWERS.has(answer.t) || !("xfer" in answer)) {
    throw new TypeError("Bus event has an answer that is not a recipient's");
  }
  if (answer.xfer !== xfer) {
    throw new TypeError("Bus event answers another transfer");
  }
  return {
    kind: "file_answer",
    node,
    from,
    ts,
    xfer,
    answer: answer as FileAnswer,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
