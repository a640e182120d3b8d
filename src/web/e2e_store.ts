/// <reference lib="dom" />
/**
 * The page's end-to-end records (issue 18 item 2) in IndexedDB: the storage
 * port (client/text_slot.ts) the terminal fills with files. The database
 * `chat-e2e` holds, in its store `records`:
 *
 *     "storage-key"       the AES-256-GCM key the records are sealed under,
 *                         a CryptoKey made non-extractable: IndexedDB keeps
 *                         it as it is, its bytes never reach this code
 *     "keyring <fp> <name>"
 *                         the keyring of the identity key <fp> signed in as
 *                         <name> (its name key, lower case), sealed
 *     "state <fp> <name>" its sessions, archive and verifications, sealed
 *     "identities"        the identity keys seen per name (known_identities.ts)
 *     "identities <n>"    one more name's key, seen first after that record
 *                         was last written whole (n: 10 digits, from 1): a
 *                         first key costs a record of its own line, not a
 *                         rewrite of the whole list (identitiesSlot)
 *     "ignored"           the users ignored with /ignore (ignore_store.ts):
 *                         not end-to-end, but the user's, as all of these,
 *                         so forgetting the user (forget.ts) takes it too
 *
 * The sealing and the formats are the terminal's (client/e2e_store.ts,
 * crypto/at_rest.ts), so a record is what the terminal's file would hold.
 * Per name, as the terminal's files (client/e2e_paths.ts): the browser has
 * one identity key, which may own several names, and the server keeps
 * prekeys per name, so each name publishes its own. Pages before that kept
 * "keyring <fp>" and "state <fp>" for whatever name signed in: the first
 * name to load its records after that takes them over (takeOverShared).
 * Sealing protects a copy of the records taken without the key (a backup of
 * the profile's files, say); script running in this page can use the key,
 * as the terminal's user can read their config folder.
 *
 * @module
 */

import type { Identity } from "../crypto/identity.ts";
import type { Keyring } from "../client/e2e_keys.ts";
import type { E2eState } from "../client/e2e_state.ts";
import {
  loadE2eStateFrom,
  loadKeyringFrom,
  MAX_E2E_STATE_BYTES,
  saveE2eStateTo,
  saveKeyringTo,
  savesInOrder,
} from "../client/e2e_store.ts";
import { KnownIdentities } from "../client/known_identities.ts";
import { nameKey } from "../protocol/limits.ts";
import type { TextSlot } from "../client/text_slot.ts";
import { openDatabase } from "./open_database.ts";
import { exclusivelyAcrossTabs } from "./tab_lock.ts";

/** The IndexedDB database of the end-to-end records. */
export const E2E_DATABASE = "chat-e2e";
const STORE = "records";
const STORAGE_KEY = "storage-key";

/** What E2eSessions (client/e2e_sessions.ts) needs kept, for one identity. */
export interface PageE2e {
  keyring: Keyring;
  saveKeyring: (keyring: Keyring) => Promise<void>;
  state: E2eState;
  saveState: (state: E2eState) => Promise<void>;
  identities: KnownIdentities;
}

/**
 * The end-to-end records of `identity` signed in as `name` in this browser,
 * made on first use. The caller holds the page's lock of that identity and
 * name (main.ts), and the one of the identity alone that pages before names
 * held, while the shared records are taken over.
 *
 * The state is kept within `maxBytes` sealed as the terminal's file is
 * (client/e2e_store.ts `saveE2eStateTo`): a state that would pass it is made
 * smaller first, the oldest archived messages then keys of skipped
 * messages, and `warn` told once; a browser's quota is the whole profile's,
 * and a record past it would make every later save of the sessions fail.
 * A record kept larger by a page before the bound is still read, and made
 * to fit at its next save.
 *
 * @throws {Error} with a message for the user if the browser's storage
 *   cannot be used, or the records do not open
 */
export async function loadPageE2e(
  identity: Identity,
  name: string,
  warn: (line: string) => void,
  maxBytes = MAX_E2E_STATE_BYTES,
): Promise<PageE2e> {
  const db = await openE2eDatabase();
  const key = await storageKey(db);
  const own = `${identity.fingerprint} ${nameKey(name)}`;
  await takeOverShared(db, identity.fingerprint, own);
  const keyringSlot = slot(db, `keyring ${own}`);
  const stateSlot = slot(db, `state ${own}`);
  return {
    keyring: await loadKeyringFrom(keyringSlot, identity, key),
    saveKeyring: savesInOrder((keyring) =>
      saveKeyringTo(keyringSlot, keyring, key)
    ),
    state: await loadE2eStateFrom(stateSlot, key),
    saveState: savesInOrder((state) =>
      saveE2eStateTo(stateSlot, key, state, { maxBytes, warn })
    ),
    identities: await KnownIdentities.load(identitiesSlot(db)),
  };
}

/**
 * Renames the records of the identity `fingerprint` kept before names
 * ("keyring <fp>", "state <fp>") to those of `own` ("<fp> <name>"), unless
 * that name has a keyring already; in one transaction, so that of two tabs
 * signing in as two names at once exactly one takes them. As the terminal
 * (client/e2e_takeover.ts says why one name keeping the whole loses less
 * than a split or a copy: two names with one keyring would hand out the
 * same one-time keys); the keyring decides, and only the name that took it
 * takes the sessions too.
 */
function takeOverShared(
  db: IDBDatabase,
  fingerprint: string,
  own: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, "readwrite", { durability: "strict" });
    const store = tx.objectStore(STORE);
    // Renames `from` to `to` unless `to` is there; `then` says whether it did.
    const move = (from: string, to: string, then: (moved: boolean) => void) => {
      const kept = store.get(to);
      kept.onsuccess = () => {
        if (kept.result !== undefined) return then(false);
        const old = store.get(from);
        old.onsuccess = () => {
          if (old.result === undefined) return then(false);
          store.put(old.result, to);
          store.delete(from);
          then(true);
        };
      };
    };
    move(`keyring ${fingerprint}`, `keyring ${own}`, (moved) => {
      if (moved) move(`state ${fingerprint}`, `state ${own}`, () => {});
    });
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * A record the tabs of the page change one at a time: the identity keys
 * seen per name, kept once for the browser, not per identity, and the
 * ignore list, which any tab signed in may change. The keyring
 * and state of an identity and name need no such lock: one tab has them
 * while it is open (main.ts holdForPage); tabs signed in as other names
 * share this record.
 *
 * A Web Lock, not one IndexedDB transaction: the decision between the read
 * and the write is the shared known_identities.ts's, behind the storage
 * port, and a transaction would commit while it awaits. The write resolves
 * once its transaction is committed, so the next tab to get the lock reads
 * it.
 */
function sharedSlot(db: IDBDatabase, name: string): TextSlot {
  return {
    ...slot(db, name),
    exclusively: (work) =>
      exclusivelyAcrossTabs(`${E2E_DATABASE} ${name}`, work),
  };
}

/** The records of the names' keys seen first since the list was written. */
function added(): IDBKeyRange {
  return IDBKeyRange.bound("identities ", "identities!", false, true);
}

/**
 * A number the page adds one to in each change of the known identities (in
 * the change's transaction), outside `added()`'s range: a read that finds it
 * as this tab last left it takes the text it had, without reading thousands
 * of records again for each message's check.
 */
const IDENTITIES_VERSION = "identities-version";

/**
 * The identity keys seen per name (known_identities.ts): the record
 * "identities", the list as last written whole, then a record "identities
 * <n>" for each first key seen since (its line, appended), read in that
 * order as one text. A host can send thousands of names, each a first key:
 * written whole for each, the list cost its whole length again at every
 * name (2,000 names: 2,000 rewrites of up to 270 KB, 270 MB in all). A
 * whole write (a key accepted with /trust, people forgotten to make room)
 * takes the added records into the list again, in the one transaction that
 * writes it. Pages before kept the list in "identities" alone: read as it
 * is, with no added records, so every key known stays known.
 */
function identitiesSlot(db: IDBDatabase): TextSlot {
  const name = "identities";
  const shared = sharedSlot(db, name);
  /** The text as this tab last read or wrote it, at that version. */
  let kept: { version: number; text: string | null } | null = null;
  /**
   * Runs `change` in a read-write transaction that also adds one to the
   * version; resolves once it is durable, with the version it made.
   */
  const change = (work: (store: IDBObjectStore, tx: IDBTransaction) => void) =>
    new Promise<number>((resolve, reject) => {
      const tx = db.transaction(STORE, "readwrite", { durability: "strict" });
      const store = tx.objectStore(STORE);
      let next = 0;
      const version = store.get(IDENTITIES_VERSION);
      version.onsuccess = () => {
        next = (typeof version.result === "number" ? version.result : 0) + 1;
        store.put(next, IDENTITIES_VERSION);
        work(store, tx);
      };
      tx.oncomplete = () => resolve(next);
      tx.onabort = () =>
        reject(tx.error ?? new Error("Too many records added to the list"));
    });
  return {
    ...shared,
    read: () =>
      new Promise((resolve, reject) => {
        const tx = db.transaction(STORE);
        const store = tx.objectStore(STORE);
        const version = store.get(IDENTITIES_VERSION);
        version.onsuccess = () => {
          const now = typeof version.result === "number" ? version.result : 0;
          if (kept !== null && kept.version === now) {
            return resolve(kept.text);
          }
          const whole = store.get(name);
          const more = store.getAll(added());
          more.onsuccess = () => {
            const parts = [whole.result, ...more.result];
            if (parts.some((part) => part !== undefined && !isText(part))) {
              return reject(damaged(name));
            }
            const text = whole.result === undefined && parts.length === 1
              ? null
              : parts.filter(isText).join("");
            kept = { version: now, text };
            resolve(text);
          };
        };
        tx.onabort = () => reject(tx.error);
      }),
    async write(text) {
      // The list and no added records, or neither change (a crash between
      // would leave lines added twice, or lost).
      kept = null;
      const version = await change((store) => {
        store.delete(added());
        store.put(text, name);
      });
      kept = { version, text };
    },
    async append(addition, whole) {
      kept = null;
      // Called under the tabs' lock (sharedSlot): no other tab picks the
      // same number meanwhile.
      const version = await change((store, tx) => {
        const last = store.openKeyCursor(added(), "prev");
        last.onsuccess = () => {
          const key = last.result?.key;
          const n = typeof key === "string" ? Number(key.slice(11)) : 0;
          if (!Number.isSafeInteger(n) || n >= 9_999_999_999) {
            tx.abort();
            return;
          }
          store.put(addition, `${name} ${String(n + 1).padStart(10, "0")}`);
        };
      });
      kept = { version, text: whole };
    },
  };
}

function isText(value: unknown): value is string {
  return typeof value === "string";
}

function damaged(name: string): Error {
  return new Error(
    `The browser's end-to-end record '${name}' is damaged; clear this site's data to start afresh`,
  );
}

/**
 * The record of the users ignored with /ignore, shared by the tabs (see
 * sharedSlot).
 *
 * @throws {Error} with a message for the user if the browser's storage
 *   cannot be used
 */
export async function openIgnoredRecord(): Promise<TextSlot> {
  return sharedSlot(await openE2eDatabase(), "ignored");
}

/** One record of the database as a slot. */
function slot(db: IDBDatabase, name: string): TextSlot {
  return {
    where: `in this browser's storage ('${name}')`,
    async read() {
      const value = await request(
        db.transaction(STORE).objectStore(STORE).get(name),
      );
      if (value === undefined) return null;
      if (typeof value !== "string") throw damaged(name);
      return value;
    },
    write: (text) =>
      // One put in one transaction: all or nothing.
      complete(db, (store) => store.put(text, name)),
  };
}

/** The storage key, made (non-extractable) and kept on first use. */
async function storageKey(db: IDBDatabase): Promise<CryptoKey> {
  const get = () =>
    request(db.transaction(STORE).objectStore(STORE).get(STORAGE_KEY));
  const kept = await get();
  if (kept instanceof CryptoKey) return kept;
  const made = await crypto.subtle.generateKey(
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  // `add`: when two tabs make one at once, the first one kept wins.
  try {
    await complete(db, (store) => store.add(made, STORAGE_KEY));
  } catch (error) {
    if (!(error instanceof DOMException && error.name === "ConstraintError")) {
      throw error;
    }
  }
  const stored = await get();
  if (!(stored instanceof CryptoKey)) {
    throw new Error("The browser did not keep the end-to-end storage key");
  }
  return stored;
}

/**
 * The database's version. 2 since the known identities take a record per
 * first key (identitiesSlot): a tab of a page before it, left open through
 * the server's upgrade, read "identities" alone and wrote it back whole
 * without the version record. It would take a changed key of a name pinned
 * in an added record as a first sight, and a tab of this page, finding the
 * version as it left it, would not see a key that tab pinned (and a whole
 * write would drop it). Opened at 2, the database closes that tab's
 * connection (its open_database.ts gives way to a newer page), whose checks
 * then fail, refused rather than wrong, and a reload brings this page.
 */
export const E2E_DATABASE_VERSION = 2;

/** The database, opened (see open_database.ts). */
export function openE2eDatabase(): Promise<IDBDatabase> {
  return openDatabase(
    E2E_DATABASE,
    STORE,
    "end-to-end keys",
    E2E_DATABASE_VERSION,
  );
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Runs `change` in a read-write transaction; resolves once it is durable. */
function complete(
  db: IDBDatabase,
  change: (store: IDBObjectStore) => IDBRequest,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, "readwrite", { durability: "strict" });
    const req = change(tx.objectStore(STORE));
    req.onerror = (event) => {
      // Reported once, by the transaction's abort.
      event.preventDefault();
      reject(req.error);
    };
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? req.error);
  });
}
