// This module is browser compatible.

/**
 * Readers of a decoded header's fields, for the validators of what arrives
 * from the network (parse_client_message.ts, parse_server_message.ts): each
 * returns the field typed, or throws TypeError naming what is wrong.
 */

import {
  FILE_KEY_ID_PATTERN,
  isValidName,
  NAME_RULE,
  SHA256_HEX_PATTERN,
} from "./limits.ts";
import { CLIENT_ID_PATTERN } from "./messages.ts";

export type Fields = Record<string, unknown>;

export function fail(reason: string): never {
  throw new TypeError(reason);
}

export function asRecord(value: unknown): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("Message header is not an object");
  }
  return value as Fields;
}

export function str(fields: Fields, key: string, max = 256): string {
  const value = fields[key];
  if (typeof value !== "string") fail(`Field '${key}' must be a string`);
  if (value.length > max) fail(`Field '${key}' is too long`);
  return value;
}

/**
 * A file offer's optional `key` (64 lower-case hex digits) and `key_id` (32
 * lower-case hex digits), when present.
 */
export function fileKey(fields: Fields): { key?: string; key_id?: string } {
  let out: { key?: string; key_id?: string } = {};
  if (fields.key !== undefined) {
    const key = str(fields, "key", 64);
    if (!SHA256_HEX_PATTERN.test(key)) {
      fail("Field 'key' must be 64 lower-case hex digits");
    }
    out = { key };
  }
  if (fields.key_id !== undefined) {
    const id = str(fields, "key_id", 32);
    if (!FILE_KEY_ID_PATTERN.test(id)) {
      fail("Field 'key_id' must be 32 lower-case hex digits");
    }
    out = { ...out, key_id: id };
  }
  return out;
}

/**
 * A file offer's optional `sha256`, when present: the whole file's keyed
 * SHA-256 (docs/PROTOCOL.md 5.6 "Resume"), 64 lower-case hex digits.
 */
export function wholeFileDigest(fields: Fields): { sha256?: string } {
  if (fields.sha256 === undefined) return {};
  const sha256 = str(fields, "sha256", 64);
  if (!SHA256_HEX_PATTERN.test(sha256)) {
    fail("Field 'sha256' must be 64 lower-case hex digits");
  }
  return { sha256 };
}

/**
 * A `file_end`: its `sig` (a group file's, 11.10), when present, is 64 bytes
 * in base64 (88 characters); the server passes it on as it is.
 */
export function fileEnd(
  fields: Fields,
): { t: "file_end"; xfer: number; sha256: string; sig?: string } {
  const end = {
    t: "file_end" as const,
    xfer: int(fields, "xfer"),
    sha256: str(fields, "sha256", 64),
  };
  if (fields.sig === undefined) return end;
  const sig = str(fields, "sig", 88);
  if (!/^[A-Za-z0-9+/]{86}==$/.test(sig)) {
    fail("Field 'sig' must be 64 bytes in base64");
  }
  return { ...end, sig };
}

export function int(fields: Fields, key: string): number {
  const value = fields[key];
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < 0
  ) {
    fail(`Field '${key}' must be a non-negative integer`);
  }
  return value;
}

export function optionalInt(fields: Fields, key: string): number | null {
  return fields[key] === null ? null : int(fields, key);
}

export function bool(fields: Fields, key: string): boolean {
  const value = fields[key];
  if (typeof value !== "boolean") fail(`Field '${key}' must be a boolean`);
  return value;
}

export function list<T>(
  fields: Fields,
  key: string,
  item: (value: unknown) => T,
  max = 100_000,
): T[] {
  const value = fields[key];
  if (!Array.isArray(value)) fail(`Field '${key}' must be an array`);
  if (value.length > max) fail(`Field '${key}' has too many items`);
  return value.map(item);
}

/** A group's members tag: 16 lowercase hex digits (docs/PROTOCOL.md 5.5). */
export const MEMBERS_TAG_PATTERN = /^[0-9a-f]{16}$/;

/** The optional `tag` of a group's members (`members`, `e2e_gsay`). */
export function membersTag(fields: Fields): { tag?: string } {
  const value = fields.tag;
  if (value === undefined) return {};
  if (typeof value !== "string" || !MEMBERS_TAG_PATTERN.test(value)) {
    fail("Field 'tag' must be 16 lowercase hex digits");
  }
  return { tag: value };
}

/** A chat message's optional `cid`, checked against CLIENT_ID_PATTERN. */
export function clientId(fields: Fields): { cid?: string } {
  const value = fields.cid;
  if (value === undefined) return {};
  if (typeof value !== "string" || !CLIENT_ID_PATTERN.test(value)) {
    fail("Field 'cid' must be 16 to 32 lowercase hex digits");
  }
  return { cid: value };
}

/**
 * A user or group name a server sent: it follows the naming rule
 * (docs/PROTOCOL.md 8), as every name the server accepted does. A name is
 * shown on terminals and pages and kept in files: one that breaks the rule
 * (a control character, a newline, 200 characters) is the server breaking
 * the protocol.
 */
export function userName(fields: Fields, key: string): string {
  const value = fields[key];
  if (typeof value !== "string" || !isValidName(value)) {
    fail(`Field '${key}' must be a name (${NAME_RULE})`);
  }
  return value;
}

/** A list's name, as {@link userName}. */
export function validName(value: unknown): string {
  if (typeof value !== "string" || !isValidName(value)) {
    fail(`Expected a name (${NAME_RULE})`);
  }
  return value;
}
