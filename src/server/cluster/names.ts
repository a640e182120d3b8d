/**
 * Name <-> identity key bindings shared by a cluster's nodes (issue 19): a
 * key-value bucket where a name is bound by `create`, which JetStream
 * refuses when the key exists (compare-and-set), so two nodes can never
 * bind one name to two keys. A node's own store keeps its copy (the gate
 * binds it there after the welcome); the bucket's word wins over it when
 * they differ (`chat admin release --cluster` deletes a binding here only).
 *
 * A new user or group name is first claimed under its skeleton in the same
 * bucket (skeleton_claims.ts), also by compare-and-set: look-alikes and the
 * one namespace of people and groups hold across nodes, a name bound on a
 * node where its owner is offline included.
 */

import { nameKey } from "../../protocol/limits.ts";
import { nameSkeleton } from "../../protocol/name_skeleton.ts";
import type { NameClaim } from "../identity_gate.ts";
import { connectNats, type KV, openBucket } from "./nats.ts";
import {
  claimGroup,
  claimUser,
  type Decision,
  encodeSkeletonClaims,
  type GroupNameClaim,
  parseSkeletonClaims,
  type SkeletonClaims,
  withoutGroup,
  withoutUser,
  withUser,
} from "./skeleton_claims.ts";
import {
  nameBindingKey,
  nameKeyOfBinding,
  NAMES_BUCKET,
  skeletonClaimsKey,
  SKELETONS_RECORDED_KEY,
} from "./subjects.ts";

/** Compare-and-set attempts of a release before it is given up. */
const RELEASE_ATTEMPTS = 5;

/**
 * Compare-and-set attempts of a change to a skeleton's claims: each lost
 * one means another node claimed a look-alike at that moment.
 */
const CLAIM_ATTEMPTS = 20;

export class ClusterNames {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /**
   * Binds the name to `fingerprint` if it is free and no name like it is
   * another key's or a group's: its skeleton is claimed first, so of two
   * nodes claiming look-alikes at once one wins. A name the key holds
   * already is its own whatever looks like it (bound before this rule), and
   * recorded under its skeleton from now on.
   */
  async claim(
    name: string,
    key: string,
    fingerprint: string,
  ): Promise<NameClaim> {
    const skeleton = skeletonClaimsKey(nameSkeleton(key));
    const bound = await this.owner(key);
    if (bound !== null) {
      if (bound === fingerprint) {
        await this.#change(skeleton, (claims) => ({
          answer: null,
          next: withUser(claims, name, fingerprint),
        }));
      }
      return { kind: "bound", fingerprint: bound };
    }
    const claimed = await this.#change(
      skeleton,
      (claims) => claimUser(claims, name, fingerprint),
    );
    if (claimed.kind !== "bound" || claimed.fingerprint !== fingerprint) {
      return claimed;
    }
    let owner: string;
    try {
      owner = await this.#bind(key, fingerprint);
    } catch (error) {
      // Not bound (NATS failed between the two writes): the claim goes
      // too, or the name would stay this key's for every other node with
      // no binding behind it. A binding made all the same (the answer was
      // lost) keeps it, and is recorded again at its owner's next claim.
      await this.#dropUnboundClaim(skeleton, key).catch(() => {});
      throw error;
    }
    // Bound meanwhile by a node that claims no skeletons (an older version):
    // its owner keeps it, and this key's claim goes.
    if (owner !== fingerprint) {
      await this.#change(skeleton, (claims) => ({
        answer: null,
        next: withoutUser(claims, key),
      }));
    }
    return { kind: "bound", fingerprint: owner };
  }

  /** Drops the user name `key` from `skeleton`'s claims if it is not bound. */
  async #dropUnboundClaim(skeleton: string, key: string): Promise<void> {
    if (await this.owner(key) !== null) return;
    await this.#change(skeleton, (claims) => ({
      answer: null,
      next: withoutUser(claims, key),
    }));
  }

  /**
   * Claims a new group's name for its creator (a user name): refused when
   * it is or looks like a user's name or looks like another creator's group.
   */
  claimGroup(name: string, creator: string): Promise<GroupNameClaim> {
    return this.#change(
      skeletonClaimsKey(nameSkeleton(name)),
      (claims) => claimGroup(claims, name, creator),
    );
  }

  /** Drops a group's claim (the group was not created after all). */
  async releaseGroup(name: string): Promise<void> {
    await this.#change(skeletonClaimsKey(nameSkeleton(name)), (claims) => ({
      answer: null,
      next: withoutGroup(claims, nameKey(name)),
    }));
  }

  /**
   * Records under their skeletons the names bound before skeletons were
   * claimed (by an older version), once for the whole cluster: one pass
   * over the bucket, by the first node to start with this version. Names
   * bound later by an older node still running are recorded when their
   * owner next signs in on a node of this one (claim). Resolves to how many
   * were recorded, or null when it was done already.
   */
  async recordOlderBindings(): Promise<number | null> {
    const done = await this.#kv.get(SKELETONS_RECORDED_KEY);
    if (done !== null && done.operation === "PUT") return null;
    // The keys there now, listed before any is read: one pass, not a watch.
    const keys: string[] = [];
    for await (const key of await this.#kv.keys("*")) keys.push(key);
    let recorded = 0;
    for (const bindingKey of keys) {
      const key = nameKeyOfBinding(bindingKey);
      if (key === null) continue;
      const owner = await this.owner(key);
      if (owner === null) continue;
      const added = await this.#change(
        skeletonClaimsKey(nameSkeleton(key)),
        (claims) => {
          const next = withUser(claims, key, owner);
          return { answer: next !== null, next };
        },
      );
      if (added) recorded++;
    }
    await this.#kv.put(SKELETONS_RECORDED_KEY, "1");
    return recorded;
  }

  /**
   * Applies `decide` to a skeleton's claims and writes what it makes of
   * them, if anything, only if no one wrote meanwhile (else decides again).
   */
  async #change<T>(
    key: string,
    decide: (claims: SkeletonClaims | null) => Decision<T>,
  ): Promise<T> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const entry = await this.#kv.get(key);
      const current = entry === null || entry.operation !== "PUT"
        ? null
        : parseSkeletonClaims(entry.value);
      const { answer, next } = decide(current);
      if (next === null) return answer;
      try {
        if (entry === null) {
          await this.#kv.create(key, encodeSkeletonClaims(next));
        } else {
          await this.#kv.update(
            key,
            encodeSkeletonClaims(next),
            entry.revision,
          );
        }
        return answer;
      } catch (error) {
        // Another node wrote first: decide again on what it wrote.
        if (!/wrong last sequence|key exists/i.test(messageOf(error))) {
          throw error;
        }
      }
    }
    throw new Error(
      `${CLAIM_ATTEMPTS} other claims of look-alike names came first`,
    );
  }

  /** Binds the name if free; resolves to the fingerprint it is bound to. */
  async #bind(nameKey: string, fingerprint: string): Promise<string> {
    const key = nameBindingKey(nameKey);
    try {
      await this.#kv.create(key, fingerprint);
      return fingerprint;
    } catch (error) {
      // Taken (by this key or another): what it is bound to decides.
      const bound = await this.#kv.get(key);
      if (bound === null || bound.operation !== "PUT") throw error;
      return bound.string();
    }
  }

  /** The fingerprint the name is bound to, or null when it is free. */
  async owner(nameKey: string): Promise<string | null> {
    const bound = await this.#kv.get(nameBindingKey(nameKey));
    return bound === null || bound.operation !== "PUT" ? null : bound.string();
  }

  /**
   * Frees the name: deletes its binding if it is still the one read
   * (compare-and-set, so a key that claims it meanwhile keeps it), and its
   * claim under its skeleton; resolves to the fingerprint it was bound to,
   * or null when it was free.
   */
  async release(nameKey: string): Promise<string | null> {
    const owner = await this.#unbind(nameKey);
    await this.#change(skeletonClaimsKey(nameSkeleton(nameKey)), (claims) => ({
      answer: null,
      next: withoutUser(claims, nameKey),
    }));
    return owner;
  }

  async #unbind(nameKey: string): Promise<string | null> {
    const key = nameBindingKey(nameKey);
    for (let attempt = 0; attempt < RELEASE_ATTEMPTS; attempt++) {
      const bound = await this.#kv.get(key);
      if (bound === null || bound.operation !== "PUT") return null;
      try {
        await this.#kv.delete(key, { previousSeq: bound.revision });
        return bound.string();
      } catch (error) {
        if (!/wrong last sequence/i.test(messageOf(error))) throw error;
      }
    }
    throw new Error(
      `the name's binding changed ${RELEASE_ATTEMPTS} times while it was released`,
    );
  }
}

/**
 * `chat admin release NAME --cluster URLS`: frees `name` in the cluster's
 * names bucket; resolves to the fingerprint it was bound to, or null.
 */
export async function releaseClusterName(
  urls: readonly string[],
  name: string,
): Promise<string | null> {
  const nc = await connectNats(urls, "chat-admin");
  try {
    const names = new ClusterNames(await openBucket(nc, NAMES_BUCKET, 0));
    return await names.release(nameKey(name));
  } finally {
    await nc.close();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
