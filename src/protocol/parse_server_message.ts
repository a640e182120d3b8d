// This module is browser compatible.

import { MAX_AWAY_CHARS } from "./limits.ts";
import {
  type Declined,
  type GroupInfo,
  type GroupMembers,
  type HistoryMark,
  isErrorCode,
  type ResumeClaim,
  type ServerMessage,
  type UserInfo,
} from "./messages.ts";
import {
  asRecord,
  bool,
  fail,
  type Fields,
  fileEnd,
  fileKey,
  int,
  list,
  membersTag,
  optionalInt,
  str,
  userName,
  validName,
  wholeFileDigest,
} from "./header_fields.ts";

/**
 * `id` and `seq` of a chat message. A server sends both or neither; each is
 * read on its own, and a reader uses them only together.
 */
function withPosition<T extends object>(
  f: Fields,
  message: T,
): T & { id?: number; seq?: number } {
  if (f.id === undefined && f.seq === undefined) return message;
  // Both, as every stored message has them: one object (a client reads one
  // chat message per line it is shown).
  if (f.id !== undefined && f.seq !== undefined) {
    return { ...message, id: int(f, "id"), seq: int(f, "seq") };
  }
  return {
    ...message,
    ...(f.id === undefined ? {} : { id: int(f, "id") }),
    ...(f.seq === undefined ? {} : { seq: int(f, "seq") }),
  };
}

function resumeClaim(value: unknown): ResumeClaim {
  const f = asRecord(value);
  return {
    name: userName(f, "name"),
    offset: int(f, "offset"),
    sha256: str(f, "sha256", 64),
  };
}

function declined(value: unknown): Declined {
  const f = asRecord(value);
  return { name: userName(f, "name"), reason: str(f, "reason", 1024) };
}

function userInfo(value: unknown): UserInfo {
  const f = asRecord(value);
  return {
    name: userName(f, "name"),
    lastMessageAt: optionalInt(f, "lastMessageAt"),
    ...(f.away === undefined ? {} : { away: str(f, "away", MAX_AWAY_CHARS) }),
    ...(f.fingerprint === undefined
      ? {}
      : { fingerprint: str(f, "fingerprint", 64) }),
  };
}

function groupInfo(value: unknown): GroupInfo {
  const f = asRecord(value);
  const info = { name: userName(f, "name"), members: int(f, "members") };
  if (f.joined === undefined) return info;
  if (f.joined !== true) fail("Field 'joined' must be true when present");
  return { ...info, joined: true };
}

function groupMembers(value: unknown): GroupMembers {
  const f = asRecord(value);
  return withMore(f, {
    group: userName(f, "group"),
    members: list(f, "members", validName),
    online: list(f, "online", validName),
    ...membersTag(f),
  });
}

function withMore<T extends object>(
  f: Fields,
  message: T,
): T & { more?: number } {
  return f.more === undefined ? message : { ...message, more: int(f, "more") };
}

/**
 * `history` and, only with it, `req`: the `history` request a message from
 * the past answers (docs/PROTOCOL.md 5.5). A `req` on a live message would
 * pass it off as an answer: refused like a `history` that is not true.
 */
function withHistory<T extends object>(
  f: Fields,
  message: T,
): T & HistoryMark {
  if (f.history === undefined) {
    if (f.req !== undefined) fail("Field 'req' must come with 'history'");
    return message;
  }
  if (f.history !== true) fail("Field 'history' must be true when present");
  return f.req === undefined
    ? { ...message, history: true }
    : { ...message, history: true, req: int(f, "req") };
}

// A Record so the compiler insists on every tag of ServerMessage.
const SERVER_TYPES: Readonly<Record<ServerMessage["t"], true>> = {
  welcome: true,
  challenge: true,
  ok: true,
  error: true,
  pong: true,
  alive: true,
  public: true,
  private: true,
  group: true,
  users: true,
  groups: true,
  members: true,
  presence: true,
  membership: true,
  bye: true,
  file_ready: true,
  file_progress: true,
  file_result: true,
  file_offer: true,
  file_chunk: true,
  file_end: true,
  file_cancel: true,
  e2e_keys: true,
  e2e_bundle: true,
  e2e_private: true,
  e2e_group: true,
};

/**
 * Whether a header has a type this client understands. Unknown types are
 * skipped rather than fatal, so servers can add messages without breaking
 * older clients (docs/PROTOCOL.md, "Versioning").
 */
export function isKnownServerType(header: unknown): boolean {
  if (typeof header !== "object" || header === null) return true; // fails in parse
  const t = (header as { t?: unknown }).t;
  return typeof t !== "string" || Object.hasOwn(SERVER_TYPES, t);
}

/** A `welcome`'s store id (docs/PROTOCOL.md 5.3). */
const STORE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Validates a header the server sent. Throws TypeError naming what is wrong. */
export function parseServerMessage(value: unknown): ServerMessage {
  const f = asRecord(value);
  const t = f.t;
  switch (t) {
    case "welcome": {
      const message = {
        t,
        re: int(f, "re"),
        name: userName(f, "name"),
        text: str(f, "text", 4096),
      };
      for (const flag of ["acks", "cids", "reqs"]) {
        if (f[flag] !== undefined && f[flag] !== true) {
          fail(`Field '${flag}' must be true when present`);
        }
      }
      if (
        f.store !== undefined &&
        (typeof f.store !== "string" || !STORE_ID.test(f.store))
      ) {
        fail("Field 'store' must be 1 to 64 letters, digits, '-' or '_'");
      }
      return {
        ...message,
        ...(f.acks === true ? { acks: true } : {}),
        ...(f.cids === true ? { cids: true } : {}),
        ...(f.reqs === true ? { reqs: true } : {}),
        ...(typeof f.store === "string" ? { store: f.store } : {}),
        ...(f.own_after === undefined
          ? {}
          : { own_after: int(f, "own_after") }),
        ...(f.last_id === undefined ? {} : { last_id: int(f, "last_id") }),
      };
    }
    case "ok":
      return withPosition(f, {
        t,
        re: int(f, "re"),
        text: str(f, "text", 4096),
        ...(f.more === true ? { more: true } : {}),
        ...(f.before === undefined ? {} : { before: int(f, "before") }),
        ...(f.name === undefined ? {} : { name: userName(f, "name") }),
      });
    case "error": {
      const code = f.code;
      return {
        t,
        re: optionalInt(f, "re"),
        code: isErrorCode(code) ? code : "internal",
        text: str(f, "text", 4096),
      };
    }
    case "public":
      return withPosition(
        f,
        withHistory(f, { t, from: userName(f, "from"), ts: int(f, "ts") }),
      );
    case "private": {
      const message = withPosition(
        f,
        withHistory(f, { t, from: userName(f, "from"), ts: int(f, "ts") }),
      );
      return f.to === undefined
        ? message
        : { ...message, to: userName(f, "to") };
    }
    case "e2e_group":
      return withPosition(
        f,
        withHistory(f, {
          t,
          group: userName(f, "group"),
          from: userName(f, "from"),
          fingerprint: str(f, "fingerprint", 64),
          ts: int(f, "ts"),
        }),
      );
    case "group":
      return withPosition(
        f,
        withHistory(f, {
          t,
          group: userName(f, "group"),
          from: userName(f, "from"),
          ts: int(f, "ts"),
        }),
      );
    case "users":
      return withMore(f, {
        t,
        re: int(f, "re"),
        users: list(f, "users", userInfo),
      });
    case "groups":
      return withMore(f, {
        t,
        re: int(f, "re"),
        groups: list(f, "groups", groupInfo),
      });
    case "members":
      return withMore(f, {
        t,
        re: int(f, "re"),
        groups: list(f, "groups", groupMembers),
      });
    case "presence":
      return { t, name: userName(f, "name"), online: bool(f, "online") };
    case "membership":
      return {
        t,
        group: userName(f, "group"),
        name: userName(f, "name"),
        joined: bool(f, "joined"),
      };
    case "bye": {
      const reason = f.reason;
      if (
        reason !== "quit" && reason !== "shutdown" && reason !== "replaced" &&
        reason !== "violation"
      ) {
        fail("Unknown bye reason");
      }
      return { t, reason, text: str(f, "text", 4096) };
    }
    case "pong":
      return { t, re: int(f, "re") };
    case "alive":
      return { t };
    case "challenge":
      return {
        t,
        re: int(f, "re"),
        nonce: str(f, "nonce", 64),
        ...(f.proof === undefined ? {} : { proof: int(f, "proof") }),
      };
    case "file_ready": {
      const message = {
        t,
        re: int(f, "re"),
        xfer: int(f, "xfer"),
        recipients: list(f, "recipients", validName),
      };
      return {
        ...message,
        ...(f.declined === undefined
          ? {}
          : { declined: list(f, "declined", declined) }),
        ...(f.declined_more === undefined
          ? {}
          : { declined_more: int(f, "declined_more") }),
        ...(f.accepted_more === undefined
          ? {}
          : { accepted_more: int(f, "accepted_more") }),
        ...(f.resume === undefined
          ? {}
          : { resume: list(f, "resume", resumeClaim) }),
      };
    }
    case "file_progress":
      return { t, xfer: int(f, "xfer"), acked: int(f, "acked") };
    case "file_result": {
      const message = {
        t,
        xfer: int(f, "xfer"),
        name: userName(f, "name"),
        ok: bool(f, "ok"),
        reason: str(f, "reason", 1024),
      };
      if (f.resumable === undefined) return message;
      if (f.resumable !== true) {
        fail("Field 'resumable' must be true when present");
      }
      return { ...message, resumable: true as const };
    }
    case "file_offer": {
      const common = {
        t,
        xfer: int(f, "xfer"),
        from: userName(f, "from"),
        name: str(f, "name", 1024),
        size: int(f, "size"),
        ...(f.fingerprint === undefined
          ? {}
          : { fingerprint: str(f, "fingerprint", 64) }),
        ...(f.timeout === undefined ? {} : { timeout: int(f, "timeout") }),
        ...fileKey(f),
        ...wholeFileDigest(f),
      };
      return f.group === undefined
        ? common
        : { ...common, group: userName(f, "group") };
    }
    case "file_chunk":
      return { t, xfer: int(f, "xfer"), offset: int(f, "offset") };
    case "file_end":
      return fileEnd(f);
    case "file_cancel": {
      const message = {
        t,
        xfer: int(f, "xfer"),
        reason: str(f, "reason", 1024),
      };
      for (const flag of ["resumable", "withdrawn"]) {
        if (f[flag] !== undefined && f[flag] !== true) {
          fail(`Field '${flag}' must be true when present`);
        }
      }
      return {
        ...message,
        ...(f.resumable === true ? { resumable: true as const } : {}),
        ...(f.withdrawn === true ? { withdrawn: true as const } : {}),
      };
    }
    case "e2e_keys":
      return { t, re: int(f, "re"), one_time: int(f, "one_time") };
    case "e2e_bundle":
      return {
        t,
        re: int(f, "re"),
        name: userName(f, "name"),
        fingerprint: str(f, "fingerprint", 64),
      };
    case "e2e_private": {
      const message = withPosition(
        f,
        withHistory(f, {
          t,
          from: userName(f, "from"),
          fingerprint: str(f, "fingerprint", 64),
          ts: int(f, "ts"),
        }),
      );
      return f.to === undefined
        ? message
        : { ...message, to: userName(f, "to") };
    }
    default:
      fail(
        typeof t === "string"
          ? `Unknown message type '${t.slice(0, 32)}'`
          : "Missing message type",
      );
  }
}
