/**
 * translate: SQLite's failures as StoreErrors, told apart by SQLite's result
 * code where node:sqlite gives one (Node's `errcode`), by the fixed text of
 * that code where it does not (Deno's).
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { translate } from "../../src/store/sqlite_errors.ts";
import { StoreError } from "../../src/store/store.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

/** An error as Node's node:sqlite throws it: with SQLite's result code. */
function nodeSqliteError(errcode: number, message: string): Error {
  return Object.assign(new Error(message), {
    code: "ERR_SQLITE_ERROR",
    errcode,
    errstr: message,
  });
}

Deno.test("translate says a file that is not a database is not one, from Deno's node:sqlite", async () => {
  await using dir = await tempDir("sqlite_errors");
  const path = `${dir.path}/chat.db`;
  await Deno.writeTextFile(path, "not a database ".repeat(100));
  let thrown: unknown = null;
  try {
    new DatabaseSync(path).exec("SELECT * FROM sqlite_schema");
  } catch (error) {
    thrown = error;
  }
  const translated = translate(thrown, path);
  assert.ok(translated instanceof StoreError, String(translated));
  assert.equal(translated.code, "not_a_database");
  assert.equal(
    translated.message,
    `The file ${path} is not a chat database: move it away or choose another data folder (SQLite: file is not a database)`,
  );
});

Deno.test("translate goes by the result code when node:sqlite gives one, whatever the words", () => {
  // SQLITE_NOTADB (26) as SQLite before 3.18 worded it.
  const translated = translate(
    nodeSqliteError(26, "file is encrypted or is not a database"),
    "/data/chat.db",
  );
  assert.ok(translated instanceof StoreError, String(translated));
  assert.equal(translated.code, "not_a_database");
  // SQLITE_BUSY_RECOVERY (5 | 1 << 8): busy, by its primary code.
  const busy = translate(nodeSqliteError(261, "database is locked"), "x.db");
  assert.ok(busy instanceof StoreError);
  assert.equal(busy.code, "busy");
});

Deno.test("translate leaves a constraint failure alone though a name in it says corrupt", () => {
  // SQLITE_CONSTRAINT_UNIQUE (19 | 8 << 8): a bug, not a damaged file.
  const error = nodeSqliteError(
    2067,
    "UNIQUE constraint failed: corrupt_reports.id",
  );
  assert.equal(translate(error, "/data/chat.db"), error);
});

Deno.test("translate leaves Deno's own errors alone whose words say corrupt or malformed after SQLite's text", async () => {
  // Deno's node:sqlite gives no errcode: the words are all there is, and a
  // table named corrupt_..., or json() given bad JSON, is no damaged file.
  await using dir = await tempDir("sqlite_errors");
  const db = new DatabaseSync(`${dir.path}/chat.db`);
  try {
    db.exec("CREATE TABLE corrupt_reports (id INTEGER PRIMARY KEY)");
    db.exec("INSERT INTO corrupt_reports VALUES (1)");
    for (
      const sql of [
        "INSERT INTO corrupt_reports VALUES (1)",
        "SELECT * FROM no_such_corrupt",
        "SELECT json('not json')",
      ]
    ) {
      let thrown: unknown = null;
      try {
        db.exec(sql);
      } catch (error) {
        thrown = error;
      }
      assert.ok(thrown instanceof Error, sql);
      assert.equal(translate(thrown, "/data/chat.db"), thrown, sql);
    }
  } finally {
    db.close();
  }
});

Deno.test("translate knows SQLite's older wording of a file that is not a database without an errcode", () => {
  const error = Object.assign(
    new Error("file is encrypted or is not a database"),
    { code: "ERR_SQLITE_ERROR" },
  );
  const translated = translate(error, "/data/chat.db");
  assert.ok(translated instanceof StoreError, String(translated));
  assert.equal(translated.code, "not_a_database");
});
