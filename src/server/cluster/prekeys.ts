/**
 * End-to-end prekey bundles shared by a cluster's nodes (issue 19): one
 * entry per user in the prekeys bucket (subjects.ts), so that anyone on any
 * node can start an end-to-end session with anyone else. Both writers use
 * compare-and-set on the entry's revision and retry when another node wrote
 * first: a publish merges its one-time keys into the latest entry
 * (prekey_directory.ts mergeBundle), and a fetch removes the oldest one-time
 * key before handing it out, so two nodes never hand out the same one.
 *
 * The entry also lists who took one of its one-time keys since the owner
 * last published (one_time_takers.ts says why): a requester takes at most
 * one per publish across all the nodes, not one per node. A publish empties
 * the list; it holds at most as many as there were keys to take.
 *
 * The value is JSON `{"name","fingerprint","bundle","takers"}`, the bundle
 * as the protocol encodes it (docs/PROTOCOL.md 11.1), `takers` identity key
 * fingerprints (absent in entries written before it: none), checked when
 * read.
 */

import { isValidName, nameKey } from "../../protocol/limits.ts";
import { FINGERPRINT_PATTERN } from "../../crypto/keys.ts";
import {
  decodeBundle,
  encodeBundle,
  type PrekeyBundle,
} from "../../crypto/prekeys.ts";
import type { SharedPrekeys } from "../e2e_keys.ts";
import {
  type Entry,
  mergeBundle,
  type PublishResult,
  takeOneTime,
  withoutOneTime,
} from "../prekey_directory.ts";
import { isWrongLastSequence, type KV } from "./nats.ts";
import { prekeysKey } from "./subjects.ts";

/** Compare-and-set attempts before giving up (another node kept winning). */
const ATTEMPTS = 20;

export class ClusterPrekeys implements SharedPrekeys {
  readonly #kv: KV;
  readonly #log: (line: string) => void;

  constructor(kv: KV, log: (line: string) => void) {
    this.#kv = kv;
    this.#log = log;
  }

  async publish(
    name: string,
    fingerprint: string,
    bundle: PrekeyBundle,
  ): Promise<PublishResult> {
    const key = prekeysKey(nameKey(name));
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { entry, revision } = await this.#read(key);
      const merged = mergeBundle(
        entry?.entry ?? undefined,
        name,
        fingerprint,
        bundle,
      );
      if (merged.entry === null) return merged.result;
      // Stored: anyone may take one of the new keys.
      if (
        await this.#write(key, { entry: merged.entry, takers: [] }, revision)
      ) {
        return merged.result;
      }
    }
    return busy();
  }

  async take(
    name: string,
    requester: string,
    allowed: () => boolean = () => true,
  ): Promise<Entry | null> {
    const key = prekeysKey(nameKey(name));
    // Asked once, however many times another node wins the write.
    let mayTake: boolean | undefined;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { entry: held, revision } = await this.#read(key);
      if (held === null) return null;
      if (held.takers.includes(requester)) return withoutOneTime(held.entry);
      if (held.entry.bundle.oneTime.length > 0) mayTake ??= allowed();
      if (mayTake === false) return withoutOneTime(held.entry);
      const { handed, left } = takeOneTime(held.entry);
      // Written before it is handed out: a one-time key goes out once, and
      // its taker is known to every node.
      if (
        left === null ||
        await this.#write(
          key,
          { entry: left, takers: [...held.takers, requester] },
          revision,
        )
      ) {
        return handed;
      }
    }
    throw new Error(`${ATTEMPTS} other nodes changed ${name}'s keys first`);
  }

  /** The entry under `key` and its revision (0: none yet). */
  async #read(
    key: string,
  ): Promise<{ entry: HeldEntry | null; revision: number }> {
    const stored = await this.#kv.get(key);
    if (stored === null || stored.operation !== "PUT") {
      return { entry: null, revision: stored?.revision ?? 0 };
    }
    try {
      return {
        entry: parseEntry(stored.string(), key),
        revision: stored.revision,
      };
    } catch (error) {
      // Only nodes write it: a bad one is replaced by the next publish,
      // and not served meanwhile.
      this.#log(
        `cluster: ignored a bad prekeys entry ${key}: ${messageOf(error)}`,
      );
      return { entry: null, revision: stored.revision };
    }
  }

  /** Writes `held` if `key` is still at `revision`; false if not. */
  async #write(
    key: string,
    { entry, takers }: HeldEntry,
    revision: number,
  ): Promise<boolean> {
    const value = JSON.stringify({
      name: entry.name,
      fingerprint: entry.fingerprint,
      bundle: encodeBundle(entry.bundle),
      takers,
    });
    try {
      if (revision === 0) await this.#kv.create(key, value);
      else await this.#kv.update(key, value, revision);
      return true;
    } catch (error) {
      if (isWrongLastSequence(error)) {
        return false;
      }
      throw error;
    }
  }
}

/** A bucket entry: the bundle, and who took one of its one-time keys. */
export interface HeldEntry {
  readonly entry: Entry;
  /** Requesters' fingerprints, since the owner last published. */
  readonly takers: readonly string[];
}

/** The entry in a bucket value; throws a TypeError saying what is wrong. */
export function parseEntry(text: string, key: string): HeldEntry {
  const value = JSON.parse(text) as unknown;
  if (typeof value !== "object" || value === null) {
    throw new TypeError("not an object");
  }
  const { name, fingerprint, bundle, takers = [] } = value as Record<
    string,
    unknown
  >;
  if (
    !Array.isArray(takers) ||
    !takers.every((taker) =>
      typeof taker === "string" && FINGERPRINT_PATTERN.test(taker)
    )
  ) {
    throw new TypeError("bad takers");
  }
  if (typeof name !== "string" || !isValidName(name)) {
    throw new TypeError("bad name");
  }
  if (prekeysKey(nameKey(name)) !== key) {
    throw new TypeError("under another name's key");
  }
  if (
    typeof fingerprint !== "string" || !FINGERPRINT_PATTERN.test(fingerprint)
  ) {
    throw new TypeError("bad fingerprint");
  }
  return {
    entry: { name, fingerprint, bundle: decodeBundle(bundle) },
    takers,
  };
}

function busy(): PublishResult {
  return {
    kind: "refused",
    code: "internal",
    text: "ERROR: The server is busy; publish your keys again in a moment",
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
