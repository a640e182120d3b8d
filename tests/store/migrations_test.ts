import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  APPLICATION_ID,
  migrate,
  type Migration,
  MIGRATIONS,
  readSchemaVersion,
  SCHEMA_VERSION,
} from "../../src/store/migrations.ts";
import { StoreError } from "../../src/store/store.ts";

function pragma(db: DatabaseSync, name: string): unknown {
  return db.prepare(`PRAGMA ${name}`).get()?.[name];
}

function tables(db: DatabaseSync): string[] {
  return db.prepare(
    "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
  ).all().map((row) => String(row.name));
}

function indexes(db: DatabaseSync): string[] {
  return db.prepare(
    `SELECT name FROM sqlite_schema
     WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
  ).all().map((row) => String(row.name));
}

function withDb(fn: (db: DatabaseSync) => void): void {
  const db = new DatabaseSync(":memory:");
  try {
    fn(db);
  } finally {
    db.close();
  }
}

Deno.test("MIGRATIONS are numbered 1, 2, 3 in order and end at SCHEMA_VERSION", () => {
  assert.ok(MIGRATIONS.length > 0);
  MIGRATIONS.forEach((migration, index) => {
    assert.equal(migration.version, index + 1);
    assert.ok(migration.description.length > 0);
  });
  assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
});

Deno.test("migrate creates the current schema on an empty database", () => {
  withDb((db) => {
    assert.deepEqual(migrate(db), { from: 0, to: SCHEMA_VERSION });
    assert.equal(pragma(db, "user_version"), SCHEMA_VERSION);
    assert.equal(pragma(db, "application_id"), APPLICATION_ID);
    assert.deepEqual(tables(db), [
      "budget_spends",
      "conversation_seqs",
      "deliveries",
      "dropped_deliveries",
      "groups",
      "memberships",
      "messages",
      "meta",
      "prekeys",
      "sent_ids",
      "sqlite_sequence",
      "transfers",
      "users",
    ]);
    assert.deepEqual(indexes(db), [
      "budget_spends_by_time",
      "deliveries_pending",
      "memberships_current",
      "memberships_of_user",
      "memberships_periods",
      "messages_group",
      "messages_private",
      "messages_public",
      "messages_with_recipients_by_time",
      "transfers_in_flight",
    ]);
    assert.equal(pragma(db, "foreign_keys"), 1, "foreign keys back on");
    // A second run finds nothing to do.
    assert.deepEqual(migrate(db), {
      from: SCHEMA_VERSION,
      to: SCHEMA_VERSION,
    });
  });
});

Deno.test("migrate applies only the pending migrations, in order", () => {
  withDb((db) => {
    const ran: number[] = [];
    const list: Migration[] = [
      { version: 1, description: "a", up: "CREATE TABLE a (x INTEGER)" },
      {
        version: 2,
        description: "b",
        up: (db) => {
          ran.push(2);
          db.exec("CREATE TABLE b (x INTEGER)");
        },
      },
      {
        version: 3,
        description: "c",
        up: (db) => {
          ran.push(3);
          db.exec("ALTER TABLE b ADD COLUMN y TEXT");
        },
      },
    ];
    assert.deepEqual(migrate(db, list.slice(0, 1)), { from: 0, to: 1 });
    assert.deepEqual(migrate(db, list.slice(0, 2)), { from: 1, to: 2 });
    assert.deepEqual(ran, [2]);
    assert.deepEqual(migrate(db, list), { from: 2, to: 3 });
    assert.deepEqual(ran, [2, 3]);
    assert.deepEqual(tables(db), ["a", "b"]);
    assert.equal(pragma(db, "user_version"), 3);
  });
});

Deno.test("migrate undoes every pending migration when one fails", () => {
  withDb((db) => {
    const list: Migration[] = [
      { version: 1, description: "a", up: "CREATE TABLE a (x INTEGER)" },
      { version: 2, description: "b", up: "CREATE TABLE b (x INTEGER)" },
      {
        version: 3,
        description: "broken",
        up: () => {
          throw new Error("Migration 3 fails");
        },
      },
    ];
    assert.throws(() => migrate(db, list), /Migration 3 fails/);
    assert.deepEqual(tables(db), []);
    assert.equal(pragma(db, "user_version"), 0);
    assert.equal(pragma(db, "application_id"), 0);

    migrate(db, list.slice(0, 1));
    assert.throws(() => migrate(db, list), /Migration 3 fails/);
    assert.deepEqual(tables(db), ["a"], "version 2 was undone with 3");
    assert.equal(pragma(db, "user_version"), 1);
    assert.equal(db.isTransaction, false);
  });
});

Deno.test("migrate refuses a migration that leaves foreign key violations", () => {
  withDb((db) => {
    const list: Migration[] = [
      {
        version: 1,
        description: "parent and child",
        up: `CREATE TABLE p (k TEXT PRIMARY KEY);
             CREATE TABLE c (k TEXT REFERENCES p (k));`,
      },
      {
        version: 2,
        description: "an orphan",
        up: "INSERT INTO c VALUES ('nobody')",
      },
    ];
    assert.throws(() => migrate(db, list), /foreign key violations/);
    assert.equal(pragma(db, "user_version"), 0);
    assert.equal(pragma(db, "foreign_keys"), 1);
  });
});

Deno.test("migrate refuses a database written by a newer program", () => {
  withDb((db) => {
    migrate(db);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    assert.throws(
      () => migrate(db, MIGRATIONS, "The database /data/chat.db"),
      (error) => {
        assert.ok(error instanceof StoreError);
        assert.equal(error.code, "too_new");
        assert.match(error.message, /^The database \/data\/chat\.db/);
        assert.match(error.message, /newer version of chat/);
        assert.match(
          error.message,
          new RegExp(
            `schema version ${
              SCHEMA_VERSION + 1
            }; this program knows up to ${SCHEMA_VERSION}`,
          ),
        );
        assert.doesNotMatch(error.message, /\.$/);
        return true;
      },
    );
    assert.equal(pragma(db, "user_version"), SCHEMA_VERSION + 1);
  });
});

Deno.test("migrate refuses another program's SQLite database and leaves it alone", () => {
  withDb((db) => {
    db.exec("CREATE TABLE notes (body TEXT)");
    assert.throws(
      () => migrate(db),
      (error) => error instanceof StoreError && error.code === "foreign",
    );
    assert.deepEqual(tables(db), ["notes"]);

    db.exec("PRAGMA application_id = 42");
    assert.throws(
      () => readSchemaVersion(db),
      (error) => error instanceof StoreError && error.code === "foreign",
    );
  });
});

Deno.test("migrate refuses a misnumbered migration list", () => {
  withDb((db) => {
    assert.throws(
      () =>
        migrate(db, [
          { version: 1, description: "a", up: "SELECT 1" },
          { version: 3, description: "c", up: "SELECT 1" },
        ]),
      RangeError,
    );
    assert.equal(pragma(db, "user_version"), 0);
  });
});

Deno.test("the schema refuses unknown message kinds and mismatched targets", () => {
  withDb((db) => {
    migrate(db);
    db.exec(`INSERT INTO users (name_key, name, created_at)
             VALUES ('alice', 'alice', 1), ('bob', 'bob', 1)`);
    const insert = db.prepare(
      `INSERT INTO messages (ts, kind, from_key, from_name, to_key, body)
       VALUES (1, ?, 'alice', 'alice', ?, x'00')`,
    );
    assert.throws(() => insert.run("broadcast", null), /CHECK constraint/);
    assert.throws(() => insert.run("private", null), /CHECK constraint/);
    assert.throws(() => insert.run("public", "bob"), /CHECK constraint/);
    assert.throws(() => insert.run("group", null), /CHECK constraint/);
    insert.run("private", "bob");
    insert.run("public", null);
    // STRICT tables keep a number from posing as a name key.
    assert.throws(
      () =>
        db.exec(
          "INSERT INTO users (name_key, name, created_at) VALUES ('c', 'c', 'x')",
        ),
      /cannot store TEXT value in INTEGER column/,
    );
  });
});

Deno.test("the schema's partial indexes serve the store's queries", () => {
  withDb((db) => {
    migrate(db);
    const plan = (sql: string): string =>
      db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all()
        .map((row) => String(row.detail)).join("\n");
    assert.match(
      plan(
        "SELECT id FROM messages WHERE kind = 'public' ORDER BY id DESC LIMIT 5",
      ),
      /messages_public/,
    );
    assert.match(
      plan(
        `SELECT id FROM messages WHERE kind = 'group' AND group_key = 'g'
         ORDER BY id DESC LIMIT 5`,
      ),
      /messages_group/,
    );
    assert.match(
      plan(
        `SELECT id FROM messages
         WHERE kind = 'private' AND from_key = 'a' AND to_key = 'b'
         ORDER BY id DESC LIMIT 5`,
      ),
      /messages_private/,
    );
    assert.match(
      plan(
        `SELECT message_id FROM deliveries
         WHERE user_key = 'a' AND delivered = 0 ORDER BY message_id LIMIT 5`,
      ),
      /deliveries_pending/,
    );
  });
});

Deno.test("migration 3 numbers existing messages per conversation in id order", () => {
  const db = new DatabaseSync(":memory:");
  try {
    migrate(db, MIGRATIONS.slice(0, 2));
    db.exec(`
      INSERT INTO users (name_key, name, created_at)
        VALUES ('alice', 'alice', 1), ('bob', 'bob', 1), ('carol', 'carol', 1);
      INSERT INTO groups (group_key, name, created_by, created_at)
        VALUES ('team', 'Team', 'alice', 1);
      INSERT INTO messages (ts, kind, from_key, from_name, to_key, group_key, body)
        VALUES
          (1, 'public', 'alice', 'alice', NULL, NULL, x'00'),
          (2, 'private', 'alice', 'alice', 'bob', NULL, x'00'),
          (3, 'group', 'bob', 'bob', NULL, 'team', x'00'),
          (4, 'private', 'bob', 'bob', 'alice', NULL, x'00'),
          (5, 'private', 'alice', 'alice', 'carol', NULL, x'00'),
          (6, 'public', 'bob', 'bob', NULL, NULL, x'00'),
          (7, 'group', 'alice', 'alice', NULL, 'team', x'00'),
          (8, 'private', 'alice', 'alice', 'bob', NULL, x'00');
    `);
    migrate(db);
    const seqs = db.prepare("SELECT seq FROM messages ORDER BY id").all()
      .map((row) => row.seq);
    assert.deepEqual(seqs, [1, 1, 1, 2, 1, 2, 2, 3]);
  } finally {
    db.close();
  }
});
