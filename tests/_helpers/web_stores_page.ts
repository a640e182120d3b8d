/// <reference lib="dom" />
/**
 * The page's stores as the page itself uses them, put on `globalThis` for
 * tests/e2e/browser_tabs_race_test.ts, which bundles this file and runs it in
 * several tabs of one browser, to have them change one record at once, and
 * tests/e2e/browser_e2e_bound_test.ts, which grows the end-to-end state.
 * Each operation waits for a "go" on a BroadcastChannel, posted by another
 * tab, so that the tabs start it together.
 */

import { loadIdentity } from "../../src/web/identity_store.ts";
import {
  loadPageE2e,
  openE2eDatabase,
  openIgnoredRecord,
  type PageE2e,
} from "../../src/web/e2e_store.ts";
import { checkServerKeyInBrowser } from "../../src/web/server_key_store.ts";
import { IgnoreStore } from "../../src/web/ignore_store.ts";
import { archive } from "../../src/client/e2e_state.ts";

/** The server of the messages `archive` keeps. */
const SERVER = "SHA256:" + "s".repeat(43);

/** What a tab was told to do when the "go" comes. */
export type Contest =
  | { kind: "identity"; server: string; name: string; fingerprint: string }
  | { kind: "server-key"; host: string; fingerprint: string }
  | { kind: "ignore"; server: string; name: string };

/** The channel the "go" of each round comes on. */
const GO = "race-go";

export interface WebStores {
  /**
   * Loads this browser's end-to-end records, as a sign-in does, their state
   * kept within `maxBytes` sealed when given (see `warnings`).
   */
  openE2e(maxBytes?: number): Promise<void>;
  /**
   * Archives `count` private messages of about 300 bytes each, numbered
   * from `first`, and saves the state as the page does.
   */
  archive(first: number, count: number): Promise<void>;
  /** The ids of the archived messages, as a new sign-in reads them. */
  archivedIds(): Promise<number[]>;
  /** The length of the state's record in IndexedDB (-1: none). */
  stateBytes(): Promise<number>;
  /** The warnings the saves of the state gave so far. */
  warnings(): string[];
  /** Loads this browser's ignore list, as a sign-in does. */
  openIgnored(): Promise<void>;
  /** Starts `contests` once the "go" of `round` comes; see `results`. */
  arm(round: number, contests: Contest[]): void;
  /** What the armed contests came to, in order (JSON for the test). */
  results(): Promise<string[]>;
  /** Posts the "go" of `round` to the other tabs. */
  go(round: number): void;
  /** The known identity of `name`, as a new sign-in would read it. */
  knownIdentity(server: string, name: string): Promise<string | null>;
  /**
   * Checks `fingerprint` as `name`'s identity key with the records loaded
   * last (as a message from them would); resolves with the check's kind.
   */
  checkKey(server: string, name: string, fingerprint: string): Promise<string>;
  /** Checks a server's key at once (JSON of the check). */
  checkServerKey(host: string, fingerprint: string): Promise<string>;
  /** The entries of the ignore list for `server`, as a new page reads it. */
  ignoredNames(server: string): Promise<string[]>;
  /**
   * Checks the key {@link fingerprintOf}(`n`) of the name `${prefix}${n}`
   * for each n from `first` on, `count` in all (first keys, one at a time,
   * as messages from that many people would); resolves with the kinds of
   * the checks, counted, and the milliseconds they took.
   */
  checkNames(
    server: string,
    prefix: string,
    first: number,
    count: number,
  ): Promise<{ kinds: Record<string, number>; ms: number }>;
  /**
   * How many of those names a new sign-in knows with exactly that key.
   */
  knownNames(
    server: string,
    prefix: string,
    first: number,
    count: number,
  ): Promise<number>;
  /**
   * The known identities' records in IndexedDB: the length of the list
   * written whole ("identities", -1: none) and how many records were added
   * after it.
   */
  identityRecords(): Promise<{ whole: number; added: number }>;
  /** Replaces the known identities with `text` in one record, as pages before kept them. */
  keepOldIdentities(text: string): Promise<void>;
}

/** A key fingerprint distinct per `n`, as the stores take them. */
function fingerprintOf(n: number): string {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n + 1);
  return `SHA256:${btoa(String.fromCharCode(...bytes)).replace(/=+$/, "")}`;
}

/** One request of a transaction on the e2e database's records. */
async function onRecords<T>(
  mode: IDBTransactionMode,
  use: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await openE2eDatabase();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction("records", mode);
      const req = use(tx.objectStore("records"));
      tx.oncomplete = () => resolve(req.result);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

let e2e: PageE2e | null = null;
const warned: string[] = [];
let ignored: IgnoreStore | null = null;
const channel = new BroadcastChannel(GO);
const waiting = new Map<number, () => void>();
channel.onmessage = (event) => {
  waiting.get(event.data as number)?.();
  waiting.delete(event.data as number);
};
let pending: Promise<string[]> = Promise.resolve([]);

async function run(contest: Contest): Promise<string> {
  switch (contest.kind) {
    case "identity": {
      if (e2e === null) throw new Error("openE2e first");
      return JSON.stringify(
        await e2e.identities.check(
          contest.server,
          contest.name,
          contest.fingerprint,
        ),
      );
    }
    case "server-key":
      return JSON.stringify(
        await checkServerKeyInBrowser(
          contest.host,
          contest.fingerprint,
          localStorage,
        ),
      );
    case "ignore":
      if (ignored === null) throw new Error("openIgnored first");
      return JSON.stringify(
        await ignored.add(contest.server, {
          fingerprint: null,
          name: contest.name,
        }),
      );
  }
}

const stores: WebStores = {
  async openE2e(maxBytes) {
    e2e = await loadPageE2e(
      await loadIdentity(),
      "webby",
      (line) => warned.push(line),
      maxBytes,
    );
  },
  async archive(first, count) {
    if (e2e === null) throw new Error("openE2e first");
    for (let id = first; id < first + count; id++) {
      archive(e2e.state, {
        server: SERVER,
        id,
        from: "ann",
        to: "webby",
        ts: id,
        text: `message ${id} `.repeat(20),
      });
    }
    await e2e.saveState(e2e.state);
  },
  async stateBytes() {
    const identity = await loadIdentity();
    const db = await openE2eDatabase();
    const text = await new Promise<unknown>((resolve, reject) => {
      const req = db.transaction("records").objectStore("records")
        .get(`state ${identity.fingerprint} webby`);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    return typeof text === "string" ? text.length : -1;
  },
  async archivedIds() {
    const fresh = await loadPageE2e(await loadIdentity(), "webby", () => {});
    return [...fresh.state.archive.values()].map((message) => message.id);
  },
  warnings: () => warned,
  async openIgnored() {
    ignored = await IgnoreStore.load(await openIgnoredRecord(), localStorage);
  },
  arm(round, contests) {
    const go = new Promise<void>((resolve) => waiting.set(round, resolve));
    pending = go.then(() => Promise.all(contests.map(run)));
  },
  results: () => pending,
  go: (round) => channel.postMessage(round),
  async knownIdentity(server, name) {
    const fresh = await loadPageE2e(await loadIdentity(), "webby", () => {});
    return fresh.identities.known(server, name) ?? null;
  },
  async checkKey(server, name, fingerprint) {
    if (e2e === null) throw new Error("openE2e first");
    return (await e2e.identities.check(server, name, fingerprint)).kind;
  },
  checkServerKey: (host, fingerprint) =>
    run({ kind: "server-key", host, fingerprint }),
  async checkNames(server, prefix, first, count) {
    if (e2e === null) throw new Error("openE2e first");
    const kinds: Record<string, number> = {};
    const start = performance.now();
    for (let n = first; n < first + count; n++) {
      const { kind } = await e2e.identities.check(
        server,
        `${prefix}${n}`,
        fingerprintOf(n),
      );
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
    return { kinds, ms: Math.round(performance.now() - start) };
  },
  async knownNames(server, prefix, first, count) {
    const fresh = await loadPageE2e(await loadIdentity(), "webby", () => {});
    let known = 0;
    for (let n = first; n < first + count; n++) {
      if (
        fresh.identities.known(server, `${prefix}${n}`) === fingerprintOf(n)
      ) {
        known++;
      }
    }
    return known;
  },
  async identityRecords() {
    const whole = await onRecords("readonly", (s) => s.get("identities"));
    const added = await onRecords(
      "readonly",
      (s) => s.count(IDBKeyRange.bound("identities ", "identities!")),
    );
    return { whole: typeof whole === "string" ? whole.length : -1, added };
  },
  async keepOldIdentities(text) {
    await onRecords("readwrite", (s) => s.put(text, "identities"));
  },
  ignoredNames: async (server) =>
    (await IgnoreStore.load(await openIgnoredRecord(), localStorage))
      .list(server).entries().map((e) => e.name),
};

(globalThis as { webStores?: WebStores }).webStores = stores;
