// This module is browser compatible.

/**
 * `chat connect --json`: session events as JSON objects, one per line, for
 * bots and scripts, and the schema they follow (README, "JSON mode"). Text
 * is given as sent, not made safe for a terminal: JSON escapes what needs
 * escaping and the reader decides how to show it.
 *
 * Field names and event types are an interface programs depend on: add new
 * ones, never change what one means.
 *
 * @module
 */

import type { ServerMessage } from "../protocol/messages.ts";
import { allReceived, type SessionEvent } from "./session_events.ts";
import { errorCodeOf } from "./answer_within.ts";

export type JsonEvent = { type: string } & Record<string, unknown>;

/** A field's JSON type; `?` after it: may be absent; `|null`: may be null. */
type FieldType =
  | "string"
  | "number"
  | "boolean"
  | "re"
  | "string[]"
  | "object[]";

export interface Field {
  type: FieldType;
  optional?: true;
  nullable?: true;
}

const f = (type: FieldType, extra: Omit<Field, "type"> = {}): Field => ({
  type,
  ...extra,
});
const opt = (type: FieldType) => f(type, { optional: true });

/** Every event type and its fields. `re`: a number or a string. */
export const JSON_SCHEMA: Readonly<Record<string, Record<string, Field>>> = {
  notice: { re: opt("re"), text: f("string") },
  unarrived: {
    from: f("string"),
    group: opt("string"),
    count: f("number"),
    text: f("string"),
  },
  welcome: { name: f("string"), text: f("string"), ownAfter: opt("number") },
  error: {
    re: f("re", { nullable: true }),
    code: f("string"),
    text: f("string"),
  },
  message: {
    kind: f("string"),
    from: f("string"),
    to: opt("string"),
    group: opt("string"),
    text: f("string"),
    time: f("string", { nullable: true }),
    history: f("boolean"),
    id: opt("number"),
    seq: opt("number"),
  },
  presence: { name: f("string"), online: f("boolean") },
  membership: { group: f("string"), name: f("string"), joined: f("boolean") },
  sent: {
    re: f("re"),
    kind: f("string"),
    to: opt("string"),
    group: opt("string"),
    text: f("string"),
    note: opt("string"),
  },
  ok: { re: f("re"), text: f("string") },
  users: { re: f("re"), users: f("object[]"), more: opt("number") },
  groups: { re: f("re"), groups: f("object[]"), more: opt("number") },
  members: { re: f("re"), groups: f("object[]"), more: opt("number") },
  help: { re: f("re"), lines: f("string[]") },
  queued: { re: f("re"), text: f("string") },
  connection: {
    state: f("string"),
    queued: f("number"),
    attempt: opt("number"),
    retryAt: opt("string"),
    error: opt("string"),
    reason: opt("string"),
    name: opt("string"),
    server: opt("string"),
  },
  file_offer: {
    xfer: f("number"),
    from: f("string"),
    group: opt("string"),
    name: f("string"),
    size: f("number"),
    fingerprint: opt("string"),
    timeoutMs: opt("number"),
    decision: f("string"),
  },
  file_offering: {
    re: f("re"),
    name: f("string"),
    size: f("number"),
    to: opt("string"),
    group: opt("string"),
  },
  file_declined: {
    re: f("re"),
    file: f("string"),
    name: f("string"),
    reason: f("string"),
  },
  file_progress: {
    direction: f("string"),
    name: f("string"),
    peer: f("string"),
    bytes: f("number"),
    size: f("number"),
    xfer: opt("number"),
    re: opt("re"),
  },
  file_received: {
    xfer: f("number"),
    from: f("string"),
    group: opt("string"),
    name: f("string"),
    path: f("string"),
  },
  file_failed: {
    xfer: f("number"),
    from: f("string"),
    name: f("string"),
    reason: f("string"),
    withdrawn: opt("boolean"),
  },
  file_sent: {
    re: f("re"),
    name: f("string"),
    size: opt("number"),
    to: opt("string"),
    group: opt("string"),
    ok: f("boolean"),
    reason: opt("string"),
    results: f("object[]"),
    declined: opt("object[]"),
    declinedMore: opt("number"),
  },
};

/**
 * What is wrong with `value` as a JSON-mode event, or null when it follows
 * the schema: a known type, every required field, no unknown one, each of
 * its type.
 */
export function schemaProblem(value: unknown): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "not an object";
  }
  const event = value as Record<string, unknown>;
  const type = event.type;
  if (typeof type !== "string" || !Object.hasOwn(JSON_SCHEMA, type)) {
    return `unknown type ${JSON.stringify(type)}`;
  }
  const fields = JSON_SCHEMA[type]!;
  for (const key of Object.keys(event)) {
    if (key !== "type" && !Object.hasOwn(fields, key)) {
      return `${type}: unknown field '${key}'`;
    }
  }
  for (const [key, field] of Object.entries(fields)) {
    if (!(key in event)) {
      if (field.optional) continue;
      return `${type}: missing field '${key}'`;
    }
    const v = event[key];
    if (v === null) {
      if (field.nullable) continue;
      return `${type}: '${key}' is null`;
    }
    if (!hasType(v, field.type)) {
      return `${type}: '${key}' is not ${field.type}`;
    }
  }
  return null;
}

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "re":
      return typeof value === "number" || typeof value === "string";
    case "string[]":
      return Array.isArray(value) && value.every((v) => typeof v === "string");
    case "object[]":
      return Array.isArray(value) &&
        value.every((v) => typeof v === "object" && v !== null);
    default: {
      const unreachable: never = type;
      return unreachable;
    }
  }
}

/** `ms` since the epoch as ISO 8601 (UTC), or null if it is not a time. */
export function isoTime(ms: number): string | null {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The JSON object for `event`, or null when it has none. */
export function jsonOf(event: SessionEvent): JsonEvent | null {
  switch (event.type) {
    case "notice":
      return event.re === undefined
        ? { type: "notice", text: event.text }
        : { type: "notice", re: event.re, text: event.text };
    case "unarrived":
      return {
        type: "unarrived",
        from: event.from,
        ...(event.group === null ? {} : { group: event.group }),
        count: event.count,
        text: event.text,
      };
    case "error":
      return {
        type: "error",
        re: event.re,
        code: event.code,
        text: event.text,
      };
    case "incoming":
      return serverJson(event.message, event.text, null);
    case "reply": {
      const { command, reply, re } = event;
      if (reply.t === "ok") {
        switch (command.kind) {
          case "say":
            return sent(re, "public", {}, command.text, reply.text);
          case "msg":
            return sent(
              re,
              "private",
              { to: command.to },
              command.text,
              reply.text,
            );
          case "gsay":
            return sent(
              re,
              "group",
              { group: command.group },
              command.text,
              reply.text,
            );
          default:
            break;
        }
      }
      return serverJson(reply, "", re);
    }
    case "help":
      return { type: "help", re: event.re, lines: event.lines };
    case "queued":
      return { type: "queued", re: event.re, text: event.line };
    case "connection": {
      const { state, queued } = event;
      switch (state.kind) {
        case "lost":
          return {
            type: "connection",
            state: "lost",
            queued,
            reason: state.reason,
          };
        case "waiting":
          return {
            type: "connection",
            state: "waiting",
            queued,
            attempt: state.attempt,
            retryAt: isoTime(state.retryAt) ?? "",
            ...(state.lastError === null ? {} : { error: state.lastError }),
          };
        case "connecting":
          return {
            type: "connection",
            state: "connecting",
            queued,
            attempt: state.attempt,
          };
        case "reconnected":
          return {
            type: "connection",
            state: "reconnected",
            queued,
            name: state.name,
            ...(state.server === undefined ? {} : { server: state.server }),
          };
        case "gave_up":
          return {
            type: "connection",
            state: "gave_up",
            queued,
            reason: state.reason,
          };
        default: {
          const unreachable: never = state;
          return unreachable;
        }
      }
    }
    case "file_offer": {
      const { offer } = event;
      return {
        type: "file_offer",
        xfer: offer.xfer,
        from: offer.from,
        ...(offer.group === undefined ? {} : { group: offer.group }),
        name: offer.name,
        size: offer.size,
        ...(offer.fingerprint === undefined
          ? {}
          : { fingerprint: offer.fingerprint }),
        ...(offer.timeout === undefined ? {} : { timeoutMs: offer.timeout }),
        decision: event.decision,
      };
    }
    case "file_offering":
      return {
        type: "file_offering",
        re: event.re,
        name: event.name,
        size: event.size,
        ...event.target,
      };
    case "file_declined":
      return {
        type: "file_declined",
        re: event.re,
        file: event.file,
        name: event.declined.name,
        reason: event.declined.reason,
      };
    case "file_progress":
      return {
        type: "file_progress",
        direction: event.direction,
        name: event.name,
        peer: event.peer,
        bytes: event.bytes,
        size: event.size,
        ...(event.xfer === undefined ? {} : { xfer: event.xfer }),
        ...(event.re === undefined ? {} : { re: event.re }),
      };
    case "file_received":
      return {
        type: "file_received",
        xfer: event.offer.xfer,
        from: event.offer.from,
        ...(event.offer.group === undefined
          ? {}
          : { group: event.offer.group }),
        name: event.name,
        path: event.path,
      };
    case "file_failed":
      return {
        type: "file_failed",
        xfer: event.offer.xfer,
        from: event.offer.from,
        name: event.offer.name,
        reason: event.reason,
        ...(event.withdrawn ? { withdrawn: true } : {}),
      };
    case "file_sent": {
      // Offered again: not final; the notice that says so carries its re.
      if (event.again === true) return null;
      const { outcome, re, target } = event;
      // Those who did not take it, each with why (file_declined said so
      // as the answers came): not received, so `ok` is false.
      const declined = {
        ...(event.declined === undefined || event.declined.length === 0 ? {} : {
          declined: event.declined.map(({ name, reason }) => ({
            name,
            reason,
          })),
        }),
        ...(event.declinedMore === undefined || event.declinedMore === 0
          ? {}
          : { declinedMore: event.declinedMore }),
      };
      switch (outcome.kind) {
        case "refused":
          return { type: "error", re, code: "file", text: outcome.text };
        case "cancelled":
          return {
            type: "file_sent",
            re,
            name: outcome.name,
            ...target,
            ok: false,
            reason: outcome.reason,
            results: outcome.results.map((r) => ({ ...r })),
            ...declined,
          };
        case "finished":
          return {
            type: "file_sent",
            re,
            name: outcome.name,
            size: outcome.size,
            ...target,
            ok: allReceived(event),
            results: outcome.results.map((r) => ({ ...r })),
            ...declined,
          };
        default: {
          const unreachable: never = outcome;
          return unreachable;
        }
      }
    }
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
}

function sent(
  re: string | number,
  kind: string,
  where: { to?: string; group?: string },
  text: string,
  note: string,
): JsonEvent {
  return {
    type: "sent",
    re,
    kind,
    ...where,
    text,
    ...(note ? { note } : {}),
  };
}

/** A server message as JSON; `re`: the command it answers, if it is a reply. */
function serverJson(
  message: ServerMessage,
  text: string,
  re: string | number | null,
): JsonEvent | null {
  switch (message.t) {
    case "public":
    case "private":
    case "group":
      return {
        type: "message",
        kind: message.t,
        from: message.from,
        ...(message.t === "private" && message.to !== undefined
          ? { to: message.to }
          : {}),
        ...(message.t === "group" ? { group: message.group } : {}),
        text,
        time: isoTime(message.ts),
        history: message.history === true,
        ...(message.id === undefined ? {} : { id: message.id }),
        ...(message.seq === undefined ? {} : { seq: message.seq }),
      };
    case "presence":
      return { type: "presence", name: message.name, online: message.online };
    case "membership":
      return {
        type: "membership",
        group: message.group,
        name: message.name,
        joined: message.joined,
      };
    case "welcome":
      // Which of the name's messages another key sent (a release, the
      // wire's `own_after`): a bot telling its own lines by name was fooled
      // by the old key's, as the terminal and the page are not.
      return {
        type: "welcome",
        name: message.name,
        text: message.text,
        ...(message.own_after === undefined || message.own_after === 0
          ? {}
          : { ownAfter: message.own_after }),
      };
    case "bye":
      // The session reports how it ended (a notice or an error).
      return { type: "notice", text: message.text };
    case "error":
      return {
        type: "error",
        re,
        code: errorCodeOf(message),
        text: message.text,
      };
    case "ok":
      return re === null
        ? { type: "notice", text: message.text }
        : { type: "ok", re, text: message.text };
    case "users":
      return {
        type: "users",
        re: re ?? message.re,
        users: message.users.map((u) => ({
          name: u.name,
          lastMessage: u.lastMessageAt === null
            ? null
            : isoTime(u.lastMessageAt),
        })),
        ...(message.more === undefined ? {} : { more: message.more }),
      };
    case "groups":
      return {
        type: "groups",
        re: re ?? message.re,
        groups: message.groups.map((g) => ({ ...g })),
        ...(message.more === undefined ? {} : { more: message.more }),
      };
    case "members":
      return {
        type: "members",
        re: re ?? message.re,
        // The tag is the client's own business (it names the state of the
        // members a group message is sealed for, PROTOCOL 5.5): a program
        // gets the group, its members and who is online, as before.
        groups: message.groups.map(({ tag: _tag, ...g }) => g),
        ...(message.more === undefined ? {} : { more: message.more }),
      };
    case "pong":
    case "alive":
    case "challenge":
    case "file_ready":
    case "file_progress":
    case "file_result":
    case "file_offer":
    case "file_chunk":
    case "file_end":
    case "file_cancel":
    case "e2e_keys":
    case "e2e_bundle":
    case "e2e_private":
    case "e2e_group":
      // Pongs, handshakes and end-to-end keys are plumbing; file events come
      // from the transfer code, which knows their context (file_* events).
      return re === null ? null : { type: "ok", re, text: "" };
    default: {
      const unreachable: never = message;
      return unreachable;
    }
  }
}

/**
 * One event as a line of JSON. JSON.stringify leaves U+2028, U+2029 and
 * U+0085 raw in strings, which is valid JSON, but line splitters such as
 * Python's `str.splitlines()` break a line there: they are written escaped
 * (the same value), so any splitter sees one event per line.
 */
export function jsonLine(event: unknown): string {
  return JSON.stringify(event).replace(
    /[\u0085\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
