/**
 * SQLite's failures in words a server's operator can act on: which file,
 * what is wrong with it, and what to do.
 */

import { StoreError } from "./store.ts";

// node:sqlite reports every SQLite failure as ERR_SQLITE_ERROR with
// SQLite's message, so the message is all there is to tell them apart.
const KNOWN_FAILURES: readonly {
  pattern: RegExp;
  code: StoreError["code"];
  explain: (path: string) => string;
}[] = [
  {
    pattern: /file is not a database/,
    code: "not_a_database",
    explain: (path) =>
      `The file ${path} is not a chat database: move it away or choose another data folder`,
  },
  {
    pattern: /malformed|corrupt/,
    code: "corrupt",
    explain: (path) =>
      `The database ${path} is damaged: restore it from a backup, or move it away to start afresh`,
  },
  {
    pattern: /unable to open database file/,
    code: "cannot_open",
    explain: (path) =>
      `Cannot open the database ${path}: check that its folder exists and that you may write to it`,
  },
  {
    pattern: /readonly database/,
    code: "read_only",
    explain: (path) =>
      `Cannot write to the database ${path}: check the permissions of the file and its folder`,
  },
  {
    pattern: /database or disk is full/,
    code: "disk_full",
    explain: (path) => `Cannot write to the database ${path}: the disk is full`,
  },
  {
    pattern: /database is locked|database table is locked/,
    code: "busy",
    explain: (path) =>
      `The database ${path} is locked by another process: stop the other chat server using it`,
  },
];

/** A `StoreError` for failures a user can act on; anything else as it was. */
export function translate(error: unknown, path: string): unknown {
  if (error instanceof StoreError || !(error instanceof Error)) return error;
  if ((error as { code?: unknown }).code !== "ERR_SQLITE_ERROR") return error;
  for (const failure of KNOWN_FAILURES) {
    if (failure.pattern.test(error.message)) {
      return new StoreError(
        failure.code,
        `${failure.explain(path)} (SQLite: ${error.message})`,
        { cause: error },
      );
    }
  }
  return error;
}
