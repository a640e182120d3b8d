/**
 * The store's schema, as an ordered list of migrations the program applies to
 * itself. `PRAGMA user_version` records how many have run; all pending ones
 * run in one transaction, so a database is always at a version this list
 * names, never halfway. A database newer than the list is refused rather than
 * misread.
 *
 * Released migrations are append-only: never edit, renumber or reorder one,
 * since databases in the field have already run it. Change the schema by
 * adding a migration. Likewise the values stored in the tables (the message
 * kind strings, 0/1 delivery flags, transfer outcomes) and what each column
 * means are persisted and must remain stable.
 */

import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "./store.ts";

export interface Migration {
  /** 1 for the first, then consecutive. */
  readonly version: number;
  readonly description: string;
  /** SQL to run, or a function for changes SQL alone cannot express. */
  readonly up: string | ((db: DatabaseSync) => void);
}

/**
 * Marks the file as a chat store (`PRAGMA application_id`, "CHAT" in ASCII),
 * so another program's SQLite database is refused instead of migrated.
 * Persisted: must remain stable.
 */
export const APPLICATION_ID = 0x43484154;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "users, groups, membership periods, messages, deliveries, " +
      "file transfers",
    // Times are milliseconds since the Unix epoch. Keys are name keys
    // (lowercased names); names are as registered, for display. Ordering
    // uses explicit INTEGER PRIMARY KEYs because VACUUM may renumber
    // implicit rowids. STRICT tables reject values of the wrong type.
    up: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        -- Identity key fingerprint bound on first use; NULL while unbound.
        fingerprint TEXT,
        created_at INTEGER NOT NULL,
        last_seen INTEGER,
        last_message_at INTEGER
      ) STRICT;

      CREATE TABLE groups (
        id INTEGER PRIMARY KEY,
        group_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        -- The creator's name as registered.
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      -- One row per period of membership; left_at is NULL for the current
      -- one, so leaving and rejoining leaves a visible gap.
      CREATE TABLE memberships (
        id INTEGER PRIMARY KEY,
        group_key TEXT NOT NULL REFERENCES groups (group_key),
        user_key TEXT NOT NULL REFERENCES users (name_key),
        user_name TEXT NOT NULL,
        joined_at INTEGER NOT NULL,
        left_at INTEGER
      ) STRICT;
      -- At most one current period per member; also serves members().
      CREATE UNIQUE INDEX memberships_current
        ON memberships (group_key, user_key) WHERE left_at IS NULL;
      CREATE INDEX memberships_of_user
        ON memberships (user_key) WHERE left_at IS NULL;
      CREATE INDEX memberships_periods ON memberships (group_key, user_key);

      -- AUTOINCREMENT so a message id is never reused, even after deletes:
      -- ids are handed out and compared.
      CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        -- 'public', 'private' or 'group': persisted tags, never renamed.
        kind TEXT NOT NULL CHECK (kind IN ('public', 'private', 'group')),
        from_key TEXT NOT NULL REFERENCES users (name_key),
        from_name TEXT NOT NULL,
        -- Set for private messages only.
        to_key TEXT REFERENCES users (name_key),
        -- Set for group messages only.
        group_key TEXT REFERENCES groups (group_key),
        -- Opaque: may be end-to-end ciphertext.
        body BLOB NOT NULL,
        CHECK ((kind = 'private') = (to_key IS NOT NULL)),
        CHECK ((kind = 'group') = (group_key IS NOT NULL))
      ) STRICT;
      -- Partial indexes: queries must name the kind as a literal to use them.
      CREATE INDEX messages_public ON messages (id) WHERE kind = 'public';
      CREATE INDEX messages_private
        ON messages (from_key, to_key, id) WHERE kind = 'private';
      CREATE INDEX messages_group
        ON messages (group_key, id) WHERE kind = 'group';

      -- Who was entitled to each message when it was sent (the sender is not
      -- listed) and whether it has reached them: delivered is 0 or 1.
      CREATE TABLE deliveries (
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        user_key TEXT NOT NULL REFERENCES users (name_key),
        delivered INTEGER NOT NULL CHECK (delivered IN (0, 1)),
        PRIMARY KEY (message_id, user_key)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX deliveries_pending
        ON deliveries (user_key, message_id) WHERE delivered = 0;

      -- File transfers without their bodies. xfer_id is the id on the wire,
      -- which restarts at 1 with the server, so it is unique only among
      -- transfers in flight (finished_at IS NULL).
      CREATE TABLE transfers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        xfer_id INTEGER NOT NULL,
        from_key TEXT NOT NULL REFERENCES users (name_key),
        name TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 0),
        to_key TEXT REFERENCES users (name_key),
        group_key TEXT REFERENCES groups (group_key),
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        -- Free text; 'interrupted' marks a transfer cut short by a restart.
        outcome TEXT,
        CHECK ((to_key IS NULL) <> (group_key IS NULL)),
        CHECK ((finished_at IS NULL) = (outcome IS NULL))
      ) STRICT;
      CREATE UNIQUE INDEX transfers_in_flight
        ON transfers (xfer_id) WHERE finished_at IS NULL;
    `,
  },
  {
    version: 2,
    description: "private and group messages indexed by time",
    // requeueSince looks for the messages sent since a client was last
    // heard from (seconds ago): without this index it read the whole
    // history for every dropped connection.
    // Only messages with recipients have deliveries to requeue, so public
    // ones (most of them, and the busiest path) stay out of it.
    up: `CREATE INDEX messages_with_recipients_by_time
           ON messages (ts) WHERE kind <> 'public';`,
  },
  {
    version: 3,
    description: "a sequence number per conversation for every message",
    // A message's place in its conversation (the public room, one pair of
    // users, one group), counted from 1: clients acknowledge what they have
    // shown by it (docs/PROTOCOL.md, "Delivery"). Existing messages are
    // numbered in id order.
    up: `
      ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
      UPDATE messages SET seq = numbered.n
      FROM (
        SELECT id, row_number() OVER (
          PARTITION BY CASE kind
            WHEN 'group' THEN 'g ' || group_key
            ELSE 'p ' || min(from_key, to_key) || ' ' || max(from_key, to_key)
          END
          ORDER BY id) AS n
        FROM messages WHERE kind <> 'public'
        UNION ALL
        SELECT id, row_number() OVER (ORDER BY id) AS n
        FROM messages WHERE kind = 'public'
      ) AS numbered
      WHERE messages.id = numbered.id;
    `,
  },
  {
    version: 4,
    description:
      "the client's own id of recent messages, to store retries once",
    // A client that lost its connection before the reply sends the message
    // again with the same cid (docs/PROTOCOL.md, "Delivery"); the position
    // is kept here so that a retry gets it even after the message itself
    // was pruned. Only the newest SENT_IDS_KEPT rows are kept (sent_ids.ts).
    // Migration 9 drops the index.
    up: `
      CREATE TABLE sent_ids (
        message_id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,
        from_key TEXT NOT NULL,
        client_id TEXT NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX sent_ids_by_sender ON sent_ids (from_key, client_id);
    `,
  },
  {
    version: 5,
    description: "end-to-end private messages: the sender's identity key",
    // An end-to-end private message (docs/PROTOCOL.md 11.7) is a 'private'
    // message whose body is the envelope, opaque to the server, so that
    // sequences, deliveries and acknowledgements work for it unchanged.
    // This column tells it apart: the fingerprint of the identity key its
    // sender signed in with, sent with it as `e2e_private`; NULL for a
    // plain message.
    up: `ALTER TABLE messages ADD COLUMN e2e_fingerprint TEXT
           CHECK (e2e_fingerprint IS NULL OR kind = 'private');`,
  },
  {
    version: 6,
    description: "end-to-end prekeys users published",
    // One row per user: the bundle (docs/PROTOCOL.md 11.1) as the server
    // hands it out, JSON, with the one-time keys still held. Kept so that a
    // first end-to-end message reaches someone offline after a restart.
    up: `
      CREATE TABLE prekeys (
        name_key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        bundle TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 7,
    description: "end-to-end group messages: the sender's identity key",
    // An end-to-end group message (docs/PROTOCOL.md 11.11) is a 'group'
    // message whose body is sealed on the sender's chain, opaque to the
    // server; this column tells it apart as e2e_fingerprint does for private
    // ones (whose CHECK allows only 'private', and SQLite cannot change a
    // CHECK without rebuilding the table).
    up: `ALTER TABLE messages ADD COLUMN e2e_group_fingerprint TEXT
           CHECK (e2e_group_fingerprint IS NULL OR kind = 'group');`,
  },
  {
    version: 8,
    description: "the store's id: the space its message positions belong to",
    // Announced in `welcome` (docs/PROTOCOL.md 5.3) so that a client that
    // moves to another node (issue 19) knows whether the ids and seqs it
    // has seen mean anything there. Random, made once per database: the
    // database's positions outlive restarts, and two databases never share
    // an id by chance. Key 'store_id' is persisted: it keeps its meaning.
    up: `
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
      INSERT INTO meta (key, value)
        VALUES ('store_id', lower(hex(randomblob(16))));
    `,
  },
  {
    version: 9,
    description: "client ids looked up in memory, not through an index",
    // Each random client id went into a random place of this index, most of
    // the cost of storing a line from `chat connect`. The store now keeps
    // the newest in memory (recent_client_ids.ts) and reads them from
    // sent_ids, in id order, when it opens; the rows are unique already.
    up: `DROP INDEX sent_ids_by_sender;`,
  },
  {
    version: 10,
    description:
      "a store at its cap: waiting messages given up, and the seqs of pruned conversations",
    // A store at its cap gives up the oldest messages waiting for the users
    // owed the most (store_cap.ts); each is told how many at their next
    // sign-in, and the row goes. And it may delete the newest message of a
    // conversation, whose seq then lives on here: the next message of that
    // conversation goes on from it (seqs never go back, docs/PROTOCOL.md
    // 5.9). Keys as message_positions.ts's conversationKey: 'p <a> <b>' with the
    // two name keys in order, 'g <group key>'.
    up: `
      CREATE TABLE dropped_deliveries (
        user_key TEXT PRIMARY KEY REFERENCES users (name_key),
        count INTEGER NOT NULL CHECK (count > 0)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE conversation_seqs (
        conversation TEXT PRIMARY KEY,
        seq INTEGER NOT NULL CHECK (seq > 0)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 11,
    description:
      "a released name's private and group history stays its old key's",
    // `chat admin release` hands a name to the next key; the messages stored
    // until then were addressed to (or sent by) the key that held it. The
    // last message id at the name's latest release: the name's private and
    // group history, as its current owner reads it, starts above it (0:
    // never released).
    up: `ALTER TABLE users ADD COLUMN released_below INTEGER NOT NULL DEFAULT 0
           CHECK (released_below >= 0);`,
  },
  {
    version: 12,
    description: "what each address spent of its hourly budgets",
    // The budgets (server/account_budgets.ts) were only in memory: a
    // restart gave every address a fresh hour. Each spend is kept for the
    // two hours a budget can remember (one in debt), and read back at
    // start (budget_queries.ts). `owner`: '' for groups.
    up: `
      CREATE TABLE budget_spends (
        at INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('create', 'join', 'prekey')),
        address TEXT NOT NULL,
        owner TEXT NOT NULL,
        count INTEGER NOT NULL CHECK (count > 0)
      ) STRICT;
      CREATE INDEX budget_spends_by_time ON budget_spends (at);
    `,
  },
  {
    version: 13,
    description: "the address group each account was registered from",
    // A store at its cap gives up first what the heaviest sender sent a
    // user; accounts made from one address count as one sender
    // (sender_groups.ts), or 200 cheap names each sending a little
    // outweighed a friend. The group as server/address_group.ts's
    // lastingGroup gives it; NULL for accounts made before this migration
    // (or on another node): each then counts alone.
    up: `ALTER TABLE users ADD COLUMN registered_from TEXT;`,
  },
];

/** The schema version this program writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export interface MigrationResult {
  /** The version found. */
  readonly from: number;
  /** The version now. */
  readonly to: number;
}

/**
 * Brings a database up to the last migration in `migrations`. `label` names
 * the database in error messages (say, `Database /path/chat.db`).
 *
 * Throws `StoreError` with code `too_new` for a database written by a newer
 * program and `foreign` for another application's database; a migration
 * that throws leaves the database as it was.
 */
export function migrate(
  db: DatabaseSync,
  migrations: readonly Migration[] = MIGRATIONS,
  label = "The database",
): MigrationResult {
  checkNumbering(migrations);
  const latest = migrations.length;
  // A cheap read first: the usual case is a database already up to date,
  // which then needs no write lock.
  const found = readSchemaVersion(db, label, latest);
  if (found === latest) return { from: found, to: found };

  // Table rebuilds (SQLite's way to alter constraints) need foreign keys
  // off; violations are checked before committing instead. The pragma has
  // no effect inside a transaction, hence before BEGIN.
  const foreignKeys = pragmaNumber(db, "foreign_keys");
  db.exec("PRAGMA foreign_keys = OFF");
  try {
    db.exec("BEGIN IMMEDIATE");
    try {
      // Read again under the write lock: another process may have migrated
      // the database in the meantime.
      const from = readSchemaVersion(db, label, latest);
      for (const migration of migrations.slice(from)) {
        if (typeof migration.up === "string") db.exec(migration.up);
        else migration.up(db);
      }
      const violations = db.prepare("PRAGMA foreign_key_check").all();
      if (violations.length > 0) {
        throw new Error(
          `Migration to version ${latest} left ${violations.length} foreign key violations`,
        );
      }
      // Both pragmas live in the database header, which the transaction
      // covers: a rollback restores them too.
      db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      db.exec(`PRAGMA user_version = ${latest}`);
      db.exec("COMMIT");
      return { from, to: latest };
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  } finally {
    db.exec(`PRAGMA foreign_keys = ${foreignKeys ? "ON" : "OFF"}`);
  }
}

/**
 * The database's schema version, read without writing anything. Throws
 * `StoreError` for a database this program must not touch: `too_new` when
 * written by a newer program (knowing versions up to `latest`), `foreign`
 * for another application's. `label` names the database in the message.
 */
export function readSchemaVersion(
  db: DatabaseSync,
  label = "The database",
  latest: number = SCHEMA_VERSION,
): number {
  const version = pragmaNumber(db, "user_version");
  const applicationId = pragmaNumber(db, "application_id");
  if (version > latest && applicationId === APPLICATION_ID) {
    throw new StoreError(
      "too_new",
      `${label} was written by a newer version of chat (schema version ${version}; this program knows up to ${latest}): upgrade chat to open it`,
    );
  }
  const empty = version === 0 && applicationId === 0 &&
    db.prepare("SELECT count(*) AS n FROM sqlite_schema").get()?.n === 0;
  if (applicationId !== APPLICATION_ID && !empty) {
    throw new StoreError(
      "foreign",
      `${label} is an SQLite database of another program, not a chat store: choose another location for chat's data`,
    );
  }
  return version;
}

function pragmaNumber(db: DatabaseSync, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).get();
  const value = row?.[name];
  if (typeof value !== "number") {
    throw new Error(`PRAGMA ${name} returned ${String(value)}`);
  }
  return value;
}

// A misnumbered list would silently skip or repeat a migration.
function checkNumbering(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new RangeError(
        `Migration ${
          index + 1
        } is numbered ${migration.version}: versions must run 1, 2, 3 and so on`,
      );
    }
  });
}
