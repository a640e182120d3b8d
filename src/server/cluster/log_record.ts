// This module is browser compatible.

/**
 * What a cluster's nodes write to the shared message log, the JetStream
 * stream CHAT_LOG (issue 19, docs/SCALING.md "The message log"): every
 * stored chat message, and every change to who still waits for one (an
 * acknowledgement, a delivery to a client that does not acknowledge). Each
 * node applies the log, in order, to its own database (log_apply.ts), so
 * the stream sequence of a message is its id and seq on every node.
 *
 * Bytes: a 4-byte big-endian header length, the header as UTF-8 JSON, then
 * the body (messages only; opaque, as the sender sent it). The log outlives
 * any node, so a decoder checks every field: a bug or an old node must not
 * put a bad row in a store.
 */

import {
  isValidName,
  MAX_FRAME_BYTES,
  nameKey,
} from "../../protocol/limits.ts";
import { CLIENT_ID_PATTERN } from "../../protocol/messages.ts";
import { decodeHeaderFrame, encodeHeaderFrame } from "./header_frame.ts";
import type { Conversation } from "../../store/store.ts";
import {
  logGroupSubject,
  logPairSubject,
  logUserSubject,
  ROOM_LOG_SUBJECT,
} from "./subjects.ts";

/** Fields every message record has. */
interface MessageFields {
  /** The sender's name, as they registered it. */
  readonly from: string;
  /** When the sender's node routed it, ms since the epoch. */
  readonly ts: number;
  /** The sender's id for it (`cid`), when it came with one. */
  readonly cid?: string;
  readonly body: Uint8Array;
}

export type LogRecord =
  /** A public-room message. */
  | MessageFields & { readonly kind: "public" }
  /**
   * A private message to `to` (a name as registered); `e2e`, for an
   * end-to-end one, the fingerprint its sender signed in with.
   */
  | MessageFields & {
    readonly kind: "private";
    readonly to: string;
    readonly e2e?: string;
  }
  /**
   * A message to group `group` (its name); `e2e` as for private. `members`:
   * who is entitled to it (names as registered, not the sender), as the
   * sender's node saw the group: every node owes it to the same people,
   * whatever its own copy of the groups bucket says yet.
   */
  | MessageFields & {
    readonly kind: "group";
    readonly group: string;
    readonly members: readonly string[];
    readonly e2e?: string;
  }
  /**
   * User `user` (a name key) has shown `conversation` up to `seq`, what
   * waited for them there up to id `maxId` (if given) is delivered.
   */
  | {
    readonly kind: "ack";
    readonly user: string;
    readonly conversation: Conversation;
    readonly seq: number;
    readonly maxId?: number;
  }
  /** These messages reached `user` (a client that does not acknowledge). */
  | {
    readonly kind: "delivered";
    readonly user: string;
    readonly ids: readonly number[];
  }
  /**
   * User `name` (as registered) signed in for the first time on some node:
   * every node knows them from now on, to take messages for them.
   */
  | { readonly kind: "user"; readonly name: string };

export type MessageRecord = Extract<
  LogRecord,
  { kind: "public" | "private" | "group" }
>;

/** Bumped when a field changes meaning: nodes skip what they cannot read. */
const VERSION = 1;

/** At most this many ids in one `delivered` record. */
export const MAX_DELIVERED_IDS = 1000;

/** At most this many members in a group record (groups hold 1000). */
export const MAX_RECORD_MEMBERS = 10_000;

const FINGERPRINT_PATTERN = /^[0-9A-Za-z:+/=_-]{1,128}$/;

/** Where a record goes in the stream (subjects.ts has the layout). */
export function logSubject(record: LogRecord): string {
  switch (record.kind) {
    case "public":
      return ROOM_LOG_SUBJECT;
    case "private":
      return logPairSubject(nameKey(record.to), nameKey(record.from));
    case "group":
      return logGroupSubject(nameKey(record.group));
    case "ack":
    case "delivered":
      return logUserSubject(record.user);
    case "user":
      return logUserSubject(nameKey(record.name));
    default: {
      const unknown: never = record;
      throw new TypeError(`Unknown log record ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * The JetStream message id of a message record (Nats-Msg-Id), or null: the
 * sender's name key and client id, so that a retry (after a lost reply, or
 * on another node after a failover) is stored once within the stream's
 * duplicate window.
 */
export function logMessageId(record: LogRecord): string | null {
  if (
    record.kind === "ack" || record.kind === "delivered" ||
    record.kind === "user" || record.cid === undefined
  ) {
    return null;
  }
  return `${
    new TextEncoder().encode(nameKey(record.from)).toHex()
  }.${record.cid}`;
}

export function encodeLogRecord(record: LogRecord): Uint8Array {
  let fields: Record<string, unknown>;
  let body: Uint8Array = new Uint8Array(0);
  switch (record.kind) {
    case "public":
    case "private":
    case "group":
      fields = {
        from: record.from,
        ts: record.ts,
        ...(record.cid === undefined ? {} : { cid: record.cid }),
        ...(record.kind === "private" ? { to: record.to } : {}),
        ...(record.kind === "group"
          ? { group: record.group, members: record.members }
          : {}),
        ...(record.kind !== "public" && record.e2e !== undefined
          ? { e2e: record.e2e }
          : {}),
      };
      body = record.body;
      break;
    case "ack":
      fields = {
        user: record.user,
        ...(record.conversation.kind === "private"
          ? { to: record.conversation.otherKey }
          : { group: record.conversation.groupKey }),
        seq: record.seq,
        ...(record.maxId === undefined ? {} : { max: record.maxId }),
      };
      break;
    case "delivered":
      fields = { user: record.user, ids: record.ids };
      break;
    case "user":
      fields = { name: record.name };
      break;
    default: {
      const unknown: never = record;
      throw new TypeError(`Unknown log record ${JSON.stringify(unknown)}`);
    }
  }
  return encodeHeaderFrame({ v: VERSION, k: record.kind, ...fields }, body);
}

/** The record in `bytes`; throws a TypeError saying what is wrong. */
export function decodeLogRecord(bytes: Uint8Array): LogRecord {
  const { header: h, body } = decodeHeaderFrame(bytes, "Log record");
  if (h.v !== VERSION) throw new TypeError(`Log record version ${h.v}`);
  switch (h.k) {
    case "public":
    case "private":
    case "group":
      return messageRecord(h, body);
    case "user": {
      if (body.byteLength !== 0) throw new TypeError("Log record has a body");
      const name = h.name;
      if (typeof name !== "string" || !isValidName(name)) {
        throw new TypeError("Log record has a bad name");
      }
      return { kind: "user", name };
    }
    case "ack":
    case "delivered": {
      if (body.byteLength !== 0) throw new TypeError("Log record has a body");
      const user = h.user;
      if (!isNameKey(user)) throw new TypeError("Log record has a bad user");
      if (h.k === "delivered") {
        const ids = h.ids;
        if (
          !Array.isArray(ids) || ids.length === 0 ||
          ids.length > MAX_DELIVERED_IDS || !ids.every(isPosition)
        ) {
          throw new TypeError("Log record has bad ids");
        }
        return { kind: "delivered", user, ids };
      }
      if (!isPosition(h.seq)) throw new TypeError("Log record has a bad seq");
      if (h.max !== undefined && !isPosition(h.max)) {
        throw new TypeError("Log record has a bad maximum id");
      }
      let conversation: Conversation;
      if (h.to !== undefined && h.group === undefined && isNameKey(h.to)) {
        conversation = { kind: "private", otherKey: h.to };
      } else if (
        h.group !== undefined && h.to === undefined && isNameKey(h.group)
      ) {
        conversation = { kind: "group", groupKey: h.group };
      } else throw new TypeError("Log record has a bad conversation");
      return {
        kind: "ack",
        user,
        conversation,
        seq: h.seq,
        ...(h.max === undefined ? {} : { maxId: h.max as number }),
      };
    }
    default:
      throw new TypeError(`Unknown log record kind ${JSON.stringify(h.k)}`);
  }
}

function messageRecord(
  h: Record<string, unknown>,
  body: Uint8Array,
): MessageRecord {
  const { from, ts, cid, e2e } = h;
  if (typeof from !== "string" || !isValidName(from)) {
    throw new TypeError("Log record has a bad sender");
  }
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) {
    throw new TypeError("Log record has a bad time");
  }
  if (
    cid !== undefined &&
    (typeof cid !== "string" || !CLIENT_ID_PATTERN.test(cid))
  ) {
    throw new TypeError("Log record has a bad client id");
  }
  if (body.byteLength === 0 || body.byteLength > MAX_FRAME_BYTES) {
    throw new TypeError("Log record has an empty or oversized body");
  }
  if (
    e2e !== undefined &&
    (h.k === "public" || typeof e2e !== "string" ||
      !FINGERPRINT_PATTERN.test(e2e))
  ) {
    throw new TypeError("Log record has a bad fingerprint");
  }
  const common = { from, ts, ...(cid === undefined ? {} : { cid }), body };
  const sealed = e2e === undefined ? {} : { e2e: e2e as string };
  if (h.k === "public") return { kind: "public", ...common };
  if (h.k === "private") {
    const to = h.to;
    if (typeof to !== "string" || !isValidName(to)) {
      throw new TypeError("Log record has a bad recipient");
    }
    return { kind: "private", to, ...common, ...sealed };
  }
  const group = h.group;
  if (typeof group !== "string" || !isValidName(group)) {
    throw new TypeError("Log record has a bad group");
  }
  const members = h.members;
  if (
    !Array.isArray(members) || members.length > MAX_RECORD_MEMBERS ||
    !members.every((name) => typeof name === "string" && isValidName(name))
  ) {
    throw new TypeError("Log record has bad members");
  }
  return { kind: "group", group, members, ...common, ...sealed };
}

function isNameKey(value: unknown): value is string {
  return typeof value === "string" && isValidName(value) &&
    nameKey(value) === value;
}

function isPosition(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) &&
    value >= 1;
}
