/**
 * Rows of node:sqlite read as the store's records, each column checked for
 * the type the schema gives it (a database is a file anyone may have
 * edited: a wrong type is an error that names the column, not a record
 * with a string where a number belongs).
 */

import type { SQLOutputValue } from "node:sqlite";
import type { GroupRecord, StoredMessage, UserRecord } from "./store.ts";

/** One row as node:sqlite returns it. */
export type Row = Record<string, SQLOutputValue>;

export function toUser(row: Row): UserRecord {
  return {
    name: text(row, "name"),
    nameKey: text(row, "name_key"),
    fingerprint: textOrNull(row, "fingerprint"),
    createdAt: integer(row, "created_at"),
    lastSeen: integerOrNull(row, "last_seen"),
    lastMessageAt: integerOrNull(row, "last_message_at"),
  };
}

export function toGroup(row: Row): GroupRecord {
  return {
    name: text(row, "name"),
    key: text(row, "group_key"),
    createdBy: text(row, "created_by"),
    createdAt: integer(row, "created_at"),
  };
}

export function toMessage(row: Row): StoredMessage {
  const fields = {
    id: integer(row, "id"),
    seq: integer(row, "seq"),
    ts: integer(row, "ts"),
    fromKey: text(row, "from_key"),
    fromName: text(row, "from_name"),
    body: blob(row, "body"),
  };
  const kind = text(row, "kind");
  switch (kind) {
    case "public":
      return { ...fields, kind };
    case "private": {
      const e2e = row.e2e_fingerprint;
      return {
        ...fields,
        ...(typeof e2e === "string" ? { e2eFingerprint: e2e } : {}),
        kind,
        toKey: text(row, "to_key"),
        toName: text(row, "to_name"),
      };
    }
    case "group": {
      const e2e = row.e2e_group_fingerprint;
      return {
        ...fields,
        ...(typeof e2e === "string" ? { e2eFingerprint: e2e } : {}),
        kind,
        groupKey: text(row, "group_key"),
        groupName: text(row, "group_name"),
      };
    }
    default:
      // The CHECK constraint rules this out for databases of this schema.
      throw new TypeError(`Message ${fields.id} has unknown kind ${kind}`);
  }
}

export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== "string") throw columnType(column, "text", value);
  return value;
}

export function textOrNull(row: Row, column: string): string | null {
  return row[column] === null ? null : text(row, column);
}

export function integer(row: Row, column: string): number {
  const value = row[column];
  if (typeof value !== "number") throw columnType(column, "a number", value);
  return value;
}

export function integerOrNull(row: Row, column: string): number | null {
  return row[column] === null ? null : integer(row, column);
}

/** A message row's body size (0 if it is not bytes: toMessage says why). */
export function bodyBytes(row: Row): number {
  const body = row.body;
  return body instanceof Uint8Array ? body.byteLength : 0;
}

function blob(row: Row, column: string): Uint8Array {
  const value = row[column];
  if (!(value instanceof Uint8Array)) throw columnType(column, "bytes", value);
  return value;
}

function columnType(
  column: string,
  wanted: string,
  value: unknown,
): TypeError {
  return new TypeError(
    `Column ${column} holds ${
      value === null ? "null" : typeof value
    }, not ${wanted}`,
  );
}

/**
 * The columns `toMessage` reads, of messages `m` (with the recipient's and
 * group's names): queries add their WHERE.
 */
export const MESSAGE_SELECT = `
  SELECT m.id, m.seq, m.ts, m.kind, m.from_key, m.from_name, m.to_key,
         tu.name AS to_name, m.group_key, g.name AS group_name, m.body,
         m.e2e_fingerprint, m.e2e_group_fingerprint
  FROM messages m
  LEFT JOIN users tu ON tu.name_key = m.to_key
  LEFT JOIN groups g ON g.group_key = m.group_key`;

/** A query's row limit, which must be a whole number. */
export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`Limit must be a non-negative integer, got ${limit}`);
  }
}

/** A history cursor (HistoryQuery.before) is a message id: absent, or a non-negative safe integer. */
export function checkCursor(before: number | undefined): void {
  if (before === undefined) return;
  if (!Number.isSafeInteger(before) || before < 0) {
    throw new RangeError(
      `A history cursor must be a non-negative integer, got ${before}`,
    );
  }
}
