// This module is browser compatible.

/**
 * Every user's published end-to-end prekey bundle (issue 17 item 1), as the
 * server holds it: see e2e_keys.ts for the messages that fill and read it.
 *
 * Kept in the store when there is one (written at every change, read back
 * when first asked for), so that a first message reaches someone offline
 * across a restart; in memory otherwise. Releasing a name deletes its
 * bundle from the store (Store.releaseName), and one held in memory is
 * checked against the store before it is handed out.
 */

import {
  decodeBundle,
  encodeBundle,
  MAX_ONE_TIME_PREKEYS,
  type PrekeyBundle,
} from "../crypto/prekeys.ts";
import { nameKey } from "../protocol/limits.ts";
import type { ErrorCode } from "../protocol/messages.ts";
import type { Store } from "../store/store.ts";

/** The most one-time keys the server holds for one user. */
export const MAX_STORED_ONE_TIME = MAX_ONE_TIME_PREKEYS;

export interface Entry {
  /** The name as its owner registered it. */
  name: string;
  /** The identity key (fingerprint) the bundle was published under. */
  fingerprint: string;
  bundle: PrekeyBundle;
}

/** What `e2e_keys` can end in. */
export type PublishResult =
  /**
   * `changed` false: the bundle held already said all this (the empty
   * top-up a signed-in client sends every 10 minutes, nothing missing):
   * nothing was written, and who took a key still did.
   */
  | { kind: "stored"; oneTime: number; changed: boolean }
  | { kind: "refused"; code: ErrorCode; text: string };

/**
 * Bundles kept in memory when there is a store, the most recently used: a
 * bundle is up to about 16 KiB, and accounts are free to make, so all of
 * them in memory grew the server without bound (each read again from the
 * store when asked for).
 */
export const CACHED_BUNDLES = 1024;

/** Every user's published bundle, by name key. */
export class PrekeyDirectory {
  /** In the order last used (with a store: a cache of at most CACHED_BUNDLES). */
  #entries = new Map<string, Entry>();
  readonly #store: Store | null;

  constructor(store: Store | null = null) {
    this.#store = store;
  }

  /** How many bundles are held in memory. */
  get cached(): number {
    return this.#entries.size;
  }

  #remember(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#store === null || this.#entries.size <= CACHED_BUNDLES) return;
    // The least recently used, which the store still has.
    const oldest = this.#entries.keys().next().value;
    if (oldest !== undefined) this.#entries.delete(oldest);
  }

  /** The entry of a name key: from memory, else from the store. */
  #entry(key: string): Entry | undefined {
    const known = this.#entries.get(key);
    if (known !== undefined) {
      // Only while the store still holds it: `chat admin release`, run on
      // the database beside this server, deletes it there, and the key it
      // was published under no longer owns the name.
      if (
        this.#store !== null &&
        this.#store.prekeysFingerprint(key) !== known.fingerprint
      ) {
        this.#entries.delete(key);
      } else {
        this.#remember(key, known);
        return known;
      }
    }
    if (this.#store === null) return undefined;
    const stored = this.#store.getPrekeys(key);
    if (stored === undefined) return undefined;
    let bundle: PrekeyBundle;
    try {
      bundle = decodeBundle(JSON.parse(stored.bundle));
    } catch {
      // Only this code writes the rows: a bad one is dropped, not served.
      return undefined;
    }
    const entry = {
      name: stored.name,
      fingerprint: stored.fingerprint,
      bundle,
    };
    this.#remember(key, entry);
    return entry;
  }

  #save(key: string, entry: Entry): void {
    this.#remember(key, entry);
    this.#store?.putPrekeys(key, {
      name: entry.name,
      fingerprint: entry.fingerprint,
      bundle: JSON.stringify(encodeBundle(entry.bundle)),
    });
  }

  /**
   * Stores `bundle` for `name`: its identity DH key and signed prekey replace
   * the previous ones, its one-time keys join those held while those keys
   * stay the same. A bundle under a different identity key (the name changed
   * hands), or with another DH key or signed prekey (new keys), replaces
   * everything.
   */
  publish(
    name: string,
    fingerprint: string,
    bundle: PrekeyBundle,
  ): PublishResult {
    const key = nameKey(name);
    const merged = mergeBundle(this.#entry(key), name, fingerprint, bundle);
    if (merged.entry !== null) this.#save(key, merged.entry);
    return merged.result;
  }

  /**
   * The bundle of `name` with its oldest one-time key, which is deleted; with
   * none when they are used up. Null if the name published nothing.
   */
  take(name: string): Entry | null {
    const key = nameKey(name);
    const entry = this.#entry(key);
    if (entry === undefined) return null;
    const { handed, left } = takeOneTime(entry);
    // Written before it is handed out: a one-time key goes out once, even
    // across a restart.
    if (left !== null) this.#save(key, left);
    return handed;
  }

  /**
   * The bundle of `name` without any one-time key, taking none; null if the
   * name published nothing.
   */
  peek(name: string): Entry | null {
    const entry = this.#entry(nameKey(name));
    return entry === undefined ? null : withoutOneTime(entry);
  }

  /** How many one-time keys are held for `name`. */
  oneTimeCount(name: string): number {
    return this.#entry(nameKey(name))?.bundle.oneTime.length ?? 0;
  }
}

/**
 * What publishing `bundle` for `name` makes of the entry held (`old`): its
 * identity DH key and signed prekey replace the old ones, its one-time keys
 * join those held, unless the identity key, the DH key or the signed prekey
 * changed (then the old one-time keys go).
 * `entry` is null when refused. Pure: the directory here and the cluster's
 * bucket (cluster/prekeys.ts) both publish through it.
 */
export function mergeBundle(
  old: Entry | undefined,
  name: string,
  fingerprint: string,
  bundle: PrekeyBundle,
): { entry: Entry | null; result: PublishResult } {
  // One-time keys are held with the DH and signed prekeys they came with: a
  // bundle with others is a client that lost its keys (kept its identity,
  // made new ones) or replaced its signed prekey, and the server cannot tell
  // which. A one-time key of the old set could be one whose private half is
  // gone, and a first message built on it could not be opened.
  const kept = old !== undefined && old.fingerprint === fingerprint &&
      sameKeys(old.bundle, bundle)
    ? old.bundle.oneTime
    : [];
  const ids = new Set(kept.map((one) => one.id));
  for (const one of bundle.oneTime) {
    if (ids.has(one.id)) {
      return {
        entry: null,
        result: {
          kind: "refused",
          code: "bad_request",
          text: `ERROR: One-time key ${one.id} is already published`,
        },
      };
    }
  }
  // Nothing new (an empty top-up of the same keys): nothing to write, and
  // no reason to let anyone take one of the owner's keys again.
  if (
    old !== undefined && old.fingerprint === fingerprint &&
    old.name === name && bundle.oneTime.length === 0 &&
    sameKeys(old.bundle, bundle) &&
    old.bundle.senderTime === bundle.senderTime
  ) {
    return {
      entry: null,
      result: { kind: "stored", oneTime: kept.length, changed: false },
    };
  }
  if (kept.length + bundle.oneTime.length > MAX_STORED_ONE_TIME) {
    return {
      entry: null,
      result: {
        kind: "refused",
        code: "limit",
        text:
          `ERROR: The server keeps at most ${MAX_STORED_ONE_TIME} one-time keys per user; it holds ${kept.length}`,
      },
    };
  }
  const oneTime = [...kept, ...bundle.oneTime];
  return {
    entry: { name, fingerprint, bundle: { ...bundle, oneTime } },
    result: { kind: "stored", oneTime: oneTime.length, changed: true },
  };
}

/**
 * Whether two bundles hold the same identity, DH and signed prekeys. What
 * the owner's client reads (`senderTime`) is no key: a client upgraded keeps
 * the one-time keys it published before.
 */
function sameKeys(a: PrekeyBundle, b: PrekeyBundle): boolean {
  const keys = ({ identity, dh, signed }: PrekeyBundle) =>
    JSON.stringify(encodeBundle({ identity, dh, signed, oneTime: [] }));
  return keys(a) === keys(b);
}

/**
 * The entry as handed out (with its oldest one-time key, or none when they
 * are used up) and what is left to hold (null: unchanged, none to take).
 */
export function takeOneTime(
  entry: Entry,
): { handed: Entry; left: Entry | null } {
  const [first, ...rest] = entry.bundle.oneTime;
  return {
    handed: {
      ...entry,
      bundle: { ...entry.bundle, oneTime: first === undefined ? [] : [first] },
    },
    left: first === undefined
      ? null
      : { ...entry, bundle: { ...entry.bundle, oneTime: rest } },
  };
}

/** The entry as handed out to one who took a one-time key of it already. */
export function withoutOneTime(entry: Entry): Entry {
  return { ...entry, bundle: { ...entry.bundle, oneTime: [] } };
}
