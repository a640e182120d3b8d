/**
 * SQLite's failures in words a server's operator can act on: which file,
 * what is wrong with it, and what to do.
 */

import { StoreError } from "./store.ts";

/**
 * The failures said in words, by SQLite's primary result code
 * (https://sqlite.org/rescode.html). `errstr` is sqlite3_errstr() of that
 * code (and SQLite's older or longer wordings of it): the fixed English
 * text SQLite starts its message with, matched at the start only, as
 * other messages go on with names and values ("UNIQUE constraint failed:
 * corrupt_reports.id", "no such table: ...", json()'s "malformed JSON").
 */
const KNOWN_FAILURES: readonly {
  resultCode: number;
  errstr: RegExp;
  code: StoreError["code"];
  explain: (path: string) => string;
}[] = [
  {
    resultCode: 26, // SQLITE_NOTADB
    errstr: /^file is (?:encrypted or is )?not a database/,
    code: "not_a_database",
    explain: (path) =>
      `The file ${path} is not a chat database: move it away or choose another data folder`,
  },
  {
    resultCode: 11, // SQLITE_CORRUPT
    errstr: /^(?:database disk image is malformed|malformed database schema)/,
    code: "corrupt",
    explain: (path) =>
      `The database ${path} is damaged: restore it from a backup, or move it away to start afresh`,
  },
  {
    resultCode: 14, // SQLITE_CANTOPEN
    errstr: /^unable to open database file/,
    code: "cannot_open",
    explain: (path) =>
      `Cannot open the database ${path}: check that its folder exists and that you may write to it`,
  },
  {
    resultCode: 8, // SQLITE_READONLY
    errstr: /^attempt to write a readonly database/,
    code: "read_only",
    explain: (path) =>
      `Cannot write to the database ${path}: check the permissions of the file and its folder`,
  },
  {
    resultCode: 13, // SQLITE_FULL
    errstr: /^database or disk is full/,
    code: "disk_full",
    explain: (path) => `Cannot write to the database ${path}: the disk is full`,
  },
  {
    resultCode: 5, // SQLITE_BUSY
    errstr: /^database is locked/,
    code: "busy",
    explain: (path) =>
      `The database ${path} is locked by another process: stop the other chat server using it`,
  },
  {
    resultCode: 6, // SQLITE_LOCKED
    errstr: /^database table is locked/,
    code: "busy",
    explain: (path) =>
      `The database ${path} is locked by another process: stop the other chat server using it`,
  },
];

/**
 * Which of KNOWN_FAILURES `error` (an ERR_SQLITE_ERROR) is. Node's
 * node:sqlite gives SQLite's extended result code as `errcode`, whose low
 * byte is the primary one; Deno's (2.9.6) gives only `code` and SQLite's
 * message, so without `errcode` the message's sqlite3_errstr() text is
 * all there is to go by.
 */
function knownFailure(
  error: Error & { errcode?: unknown },
): (typeof KNOWN_FAILURES)[number] | undefined {
  if (typeof error.errcode === "number") {
    const primary = error.errcode & 0xff;
    return KNOWN_FAILURES.find((failure) => failure.resultCode === primary);
  }
  return KNOWN_FAILURES.find((failure) => failure.errstr.test(error.message));
}

/** A `StoreError` for failures a user can act on; anything else as it was. */
export function translate(error: unknown, path: string): unknown {
  if (error instanceof StoreError || !(error instanceof Error)) return error;
  if ((error as { code?: unknown }).code !== "ERR_SQLITE_ERROR") return error;
  const failure = knownFailure(error);
  if (failure === undefined) return error;
  return new StoreError(
    failure.code,
    `${failure.explain(path)} (SQLite: ${error.message})`,
    { cause: error },
  );
}
