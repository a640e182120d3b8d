// This module is browser compatible.

/**
 * What one node tells the others over the bus (issue 19, docs/SCALING.md):
 * that a user signed in there, and a transfer's messages between the
 * sender's node and a recipient's. Chat messages do not cross here: every
 * node reads them from the shared log (cluster/log.ts, log_apply.ts), in
 * its order and under its positions.
 *
 * Bytes on the bus: a 4-byte big-endian header length, the header as JSON,
 * then the body (opaque, as the sender sent it). Nodes trust one another
 * (they share the server key) but a decoder still checks every field: a bug
 * or an old node must not put a bad row in the store.
 */

import {
  FILE_CHUNK_TAG_BYTES,
  isValidName,
  MAX_FILE_CHUNK_BYTES,
  nameKey,
} from "../../protocol/limits.ts";
import { parseClientMessage } from "../../protocol/parse_client_message.ts";
import { parseServerMessage } from "../../protocol/parse_server_message.ts";
import type { ServerMessage } from "../../protocol/messages.ts";
import type { Outbound } from "../outbound.ts";
import type { RemoteRecipient } from "../remote_recipients.ts";
import type { ConnId } from "../session.ts";
import type { FileAnswer } from "../transfers.ts";
import { decodeHeaderFrame, encodeHeaderFrame } from "./header_frame.ts";
import { NODE_ID_PATTERN, transferSubject, userSubject } from "./subjects.ts";

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
  /**
   * A transfer run on `node` (its sender's), for recipient `from` signed in
   * on the node this goes to: the message as that node's transfer logic
   * addressed it to them (its `xfer` that node's), the chunk in `body`
   * (empty for the others), sealed by the sender: no node reads it.
   * `after`: for an offer or a cancel, the log position `node` had applied
   * when it sent this (what the sender said before it is at or below it);
   * the node this goes to passes it on once it has applied the log that
   * far, and what follows of the same transfer behind it (0: at once, as
   * for chunks and ends).
   */
  | {
    readonly kind: "file";
    readonly node: string;
    readonly from: string;
    readonly ts: number;
    readonly message: FileToRecipient;
    readonly body: Uint8Array;
    readonly after: number;
  }
  /**
   * What recipient `from`, on `node`, says about transfer `xfer` of the node
   * this goes to: their answer, with that transfer's id; null when they
   * are gone (signed out, or disconnected). `after`: the log position
   * `node` had applied when it sent this (what `from` said before the
   * answer is at or below it); the node this goes to carries the answer
   * out once it has applied the log that far (0: at once).
   */
  | {
    readonly kind: "file_answer";
    readonly node: string;
    readonly from: string;
    readonly ts: number;
    readonly xfer: number;
    readonly answer: FileAnswer | null;
    readonly after: number;
  };

/** A bus event and the subject it goes to. */
export interface Crossing {
  readonly subject: string;
  readonly event: BusEvent;
}

/** Bumped when a field changes meaning: nodes drop what they cannot read. */
const VERSION = 1;

/**
 * The bus events for a transfer's message to recipients on other nodes
 * (stand-in ids, remote_recipients.ts), one per recipient, on their user
 * subjects; none for anything else. `position`: the log position `node`
 * has applied, which an offer and a cancel carry as `after` (what the
 * recipient is shown of the sender, in its place among their messages);
 * chunks and ends carry none, so that a running transfer never waits for
 * the log.
 */
export function fileCrossings(
  out: Outbound,
  node: string,
  remoteOf: (id: ConnId) => RemoteRecipient | undefined,
  now: number,
  position = 0,
): Crossing[] {
  const { to, message } = out;
  if (!Array.isArray(to) || !isFileToRecipient(message)) return [];
  const after = message.t === "file_offer" || message.t === "file_cancel"
    ? position
    : 0;
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
        after,
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
  after = 0,
): Crossing {
  return {
    subject: transferSubject(senderNode, xfer),
    event: { kind: "file_answer", node, from, ts: now, xfer, answer, after },
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
  return encodeHeaderFrame(
    {
      v: VERSION,
      k: event.kind,
      node: event.node,
      from: event.from,
      ts: event.ts,
      ...(event.kind === "file"
        ? {
          m: event.message,
          // Absent when 0: what a node sent before the field was.
          ...(event.after > 0 ? { after: event.after } : {}),
        }
        : {}),
      ...(event.kind === "file_answer"
        ? {
          xfer: event.xfer,
          m: event.answer,
          ...(event.after > 0 ? { after: event.after } : {}),
        }
        : {}),
    },
    "body" in event ? event.body : undefined,
  );
}

/** The event in `bytes`; throws a TypeError saying what is wrong. */
export function decodeBusEvent(bytes: Uint8Array): BusEvent {
  const { header: h, body } = decodeHeaderFrame(bytes, "Bus event");
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
  switch (h.k) {
    case "signed_in":
      if (body.byteLength !== 0) throw new TypeError("Bus event has a body");
      return { kind: "signed_in", node, from, ts };
    case "file":
      return decodeFile(node, from, ts, h.m, body, afterOf(h.after));
    case "file_answer":
      if (body.byteLength !== 0) throw new TypeError("Bus event has a body");
      return decodeFileAnswer(node, from, ts, h.xfer, h.m, afterOf(h.after));
    default:
      // Chat messages (`public`, `private`, `group`, `e2e_private`,
      // `e2e_group`) were sent here before the shared log carried them.
      throw new TypeError(`Unknown bus event kind ${JSON.stringify(h.k)}`);
  }
}

/** An event's `after`: a log position, 0 when absent. */
function afterOf(position: unknown): number {
  const after = position ?? 0;
  if (typeof after !== "number" || !Number.isSafeInteger(after) || after < 0) {
    throw new TypeError("Bus event has a bad log position");
  }
  return after;
}

function decodeFile(
  node: string,
  from: string,
  ts: number,
  m: unknown,
  body: Uint8Array,
  after: number,
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
  return { kind: "file", node, from, ts, message, body, after };
}

function decodeFileAnswer(
  node: string,
  from: string,
  ts: number,
  xfer: unknown,
  m: unknown,
  after: number,
): BusEvent {
  if (typeof xfer !== "number" || !Number.isSafeInteger(xfer) || xfer < 1) {
    throw new TypeError("Bus event has a bad transfer id");
  }
  if (m === null) {
    return { kind: "file_answer", node, from, ts, xfer, answer: null, after };
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
    after,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
