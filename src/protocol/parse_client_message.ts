// This module is browser compatible.

import { MAX_AWAY_CHARS } from "./limits.ts";
import {
  type ClientMessage,
  type Cursor,
  MAX_ACK_CURSORS,
} from "./messages.ts";
import {
  asRecord,
  bool,
  clientId,
  fail,
  fileEnd,
  fileKey,
  int,
  list,
  membersTag,
  str,
  wholeFileDigest,
} from "./header_fields.ts";

/** Validates a header a client sent. Throws TypeError naming what is wrong. */
export function parseClientMessage(value: unknown): ClientMessage {
  const f = asRecord(value);
  const t = f.t;
  switch (t) {
    case "register":
      return {
        t,
        id: int(f, "id"),
        name: str(f, "name"),
        key: str(f, "key", 64),
        ...(f.compact === undefined ? {} : { compact: bool(f, "compact") }),
        ...(f.acks === undefined ? {} : { acks: bool(f, "acks") }),
        ...(f.varint === undefined ? {} : { varint: bool(f, "varint") }),
        ...(f.room_frames === undefined
          ? {}
          : { room_frames: bool(f, "room_frames") }),
      };
    case "prove":
      return { t, id: int(f, "id"), signature: str(f, "signature", 128) };
    case "say":
      return { t, id: int(f, "id"), ...clientId(f) };
    case "list":
    case "groups":
    case "ping":
      return { t, id: int(f, "id") };
    case "msg":
      return { t, id: int(f, "id"), to: str(f, "to"), ...clientId(f) };
    case "gsay":
      return { t, id: int(f, "id"), group: str(f, "group"), ...clientId(f) };
    case "create":
    case "join":
    case "leave":
      return { t, id: int(f, "id"), group: str(f, "group") };
    case "members": {
      const id = int(f, "id");
      return f.group === undefined
        ? { t, id }
        : { t, id, group: str(f, "group") };
    }
    case "bye":
      return { t };
    case "away": {
      const id = int(f, "id");
      return f.reason === undefined
        ? { t, id }
        : { t, id, reason: str(f, "reason", MAX_AWAY_CHARS) };
    }
    case "ack":
      return { t, cursors: list(f, "cursors", cursor, MAX_ACK_CURSORS) };
    case "history": {
      const message: Extract<ClientMessage, { t: "history" }> = {
        t,
        id: int(f, "id"),
      };
      if (f.target !== undefined) message.target = str(f, "target");
      if (f.limit !== undefined) message.limit = int(f, "limit");
      // A message id: hostile like the rest, so a non-negative safe integer.
      if (f.before !== undefined) message.before = int(f, "before");
      if (f.after !== undefined) message.after = int(f, "after");
      return message;
    }
    case "file_offer": {
      const id = int(f, "id");
      const name = str(f, "name", 1024);
      const size = int(f, "size");
      if ((f.to === undefined) === (f.group === undefined)) {
        fail("A file offer needs exactly one of 'to' and 'group'");
      }
      const key = { ...fileKey(f), ...wholeFileDigest(f) };
      return f.to === undefined
        ? { t, id, name, size, group: str(f, "group"), ...key }
        : { t, id, name, size, to: str(f, "to"), ...key };
    }
    case "file_chunk":
      return { t, xfer: int(f, "xfer"), offset: int(f, "offset") };
    case "file_end":
      return fileEnd(f);
    case "file_ack":
      return { t, xfer: int(f, "xfer"), received: int(f, "received") };
    case "file_done":
      return {
        t,
        xfer: int(f, "xfer"),
        ok: bool(f, "ok"),
        reason: str(f, "reason", 1024),
      };
    case "file_cancel":
      return {
        t,
        xfer: int(f, "xfer"),
        reason: str(f, "reason", 1024),
        ...(f.offer === undefined ? {} : { offer: int(f, "offer") }),
      };
    case "e2e_keys":
      return { t, id: int(f, "id") };
    case "e2e_bundle":
      return { t, id: int(f, "id"), name: str(f, "name") };
    case "e2e_msg":
      return {
        t,
        id: int(f, "id"),
        to: str(f, "to"),
        fingerprint: str(f, "fingerprint", 64),
        ...clientId(f),
      };
    case "e2e_gsay":
      return {
        t,
        id: int(f, "id"),
        group: str(f, "group"),
        ...clientId(f),
        ...membersTag(f),
      };
    case "file_accept": {
      // Each is read on its own; a claim needs both (the server checks).
      return {
        t,
        xfer: int(f, "xfer"),
        ...(f.offset === undefined ? {} : { offset: int(f, "offset") }),
        ...(f.sha256 === undefined ? {} : { sha256: str(f, "sha256", 64) }),
      };
    }
    case "file_decline":
      return { t, xfer: int(f, "xfer") };
    default:
      fail(
        typeof t === "string"
          ? `Unknown message type '${t.slice(0, 32)}'`
          : "Missing message type",
      );
  }
}

function cursor(value: unknown): Cursor {
  const f = asRecord(value);
  const seq = int(f, "seq");
  if ((f.to === undefined) === (f.group === undefined)) {
    fail("A cursor needs exactly one of 'to' and 'group'");
  }
  return f.to === undefined
    ? { group: str(f, "group"), seq }
    : { to: str(f, "to"), seq };
}
