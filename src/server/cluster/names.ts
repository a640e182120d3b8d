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
 *
 * A user name's claim stays `pending` until its claimant has bound the
 * exact name and confirmed the claim (both compare-and-set). A pending
 * claim at least PENDING_CLAIM_MS old whose exact name is unbound (its node
 * died between the two, or NATS failed both the binding and the drop) is
 * taken over by the next claim of its skeleton, instead of blocking that
 * family of names until an operator releases it. Why a claimant that is
 * only slow never ends up bound beside a look-alike: see `claim`.
 */

import { isValidName, nameKey } from "../../protocol/limits.ts";
import { nameSkeleton } from "../../protocol/name_skeleton.ts";
import type { NameClaim } from "../identity_gate.ts";
import {
  connectNats,
  isWrongLastSequence,
  type KV,
  KvWatchInclude,
  openBucket,
} from "./nats.ts";
import { parseGroupRecord } from "./group_record.ts";
import {
  encodeNameBinding,
  type NameBinding,
  parseNameBinding,
} from "./name_binding.ts";
import type { KeyCut } from "../../store/store.ts";
import {
  claimGroup,
  claimUser,
  confirmUser,
  type Decision,
  encodeSkeletonClaims,
  type GroupNameClaim,
  parseSkeletonClaims,
  type SkeletonClaims,
  staleCandidates,
  withGroup,
  withoutGroup,
  withoutStale,
  withoutUser,
  withUser,
} from "./skeleton_claims.ts";
import { leaveEveryGroup } from "./groups.ts";
import {
  GROUP_SKELETONS_RECORDED_KEY,
  GROUPS_BUCKET,
  nameBindingKey,
  nameKeyOfBinding,
  NAMES_BUCKET,
  PREKEYS_BUCKET,
  prekeysKey,
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

/**
 * Times a user name's claim is made again after another claimant took it
 * over while this node was late binding it (PENDING_CLAIM_MS).
 */
const TAKEN_OVER_ATTEMPTS = 3;

export class ClusterNames {
  readonly #kv: KV;
  /** Who claims, in pending claims: this node's id. */
  readonly #node: string;
  /** The clock pending claims are stamped and judged by. */
  readonly #now: () => number;
  /** The message log's last position now (a rebinding's cut). */
  readonly #logEnd: () => Promise<number>;

  constructor(
    kv: KV,
    node: string,
    now: () => number = Date.now,
    logEnd: () => Promise<number> = () => Promise.resolve(0),
  ) {
    this.#kv = kv;
    this.#node = node;
    this.#now = now;
    this.#logEnd = logEnd;
  }

  /**
   * Binds the name to `fingerprint` if it is free and no name like it is
   * another key's or a group's: its skeleton is claimed first, so of two
   * nodes claiming look-alikes at once one wins. A name the key holds
   * already is its own whatever looks like it (bound before this rule), and
   * recorded under its skeleton from now on.
   *
   * The claim is pending until the exact name is bound and the claim then
   * confirmed. Another claimant takes a pending claim over only when it is
   * PENDING_CLAIM_MS old and its exact name unbound, by a compare-and-set
   * on the skeleton's revision it read; the confirmation is a
   * compare-and-set on the same entry. So when this node was merely slow,
   * one of the two writes fails: confirmed first, the taker re-reads and
   * is refused; taken over first, the confirmation finds the claim gone,
   * and this node deletes its binding (compare-and-set on the revision it
   * made) and decides again, refused. No sign-in is welcomed on an
   * unconfirmed claim, and the clocks only decide when a takeover is tried.
   */
  async claim(
    name: string,
    key: string,
    fingerprint: string,
  ): Promise<NameClaim> {
    for (let attempt = 0; attempt < TAKEN_OVER_ATTEMPTS; attempt++) {
      const claimed = await this.#claimOnce(name, key, fingerprint);
      if (claimed !== null) return claimed;
    }
    throw new Error(
      `the claim of ${name} was taken over ${TAKEN_OVER_ATTEMPTS} times while it was bound`,
    );
  }

  /** One try of `claim`; null when its claim was taken over meanwhile. */
  async #claimOnce(
    name: string,
    key: string,
    fingerprint: string,
  ): Promise<NameClaim | null> {
    const skeleton = skeletonClaimsKey(nameSkeleton(key));
    const bound = await this.binding(key);
    if (bound !== null) {
      if (bound.fingerprint === fingerprint) {
        await this.#change(skeleton, (claims) => ({
          answer: null,
          next: withUser(claims, name, fingerprint),
        }));
      }
      return boundClaim(bound.fingerprint, bound.cut);
    }
    const claimed = await this.#change(
      skeleton,
      (claims) =>
        claimUser(claims, name, fingerprint, {
          node: this.#node,
          since: this.#now(),
        }),
    );
    if (claimed.kind !== "bound" || claimed.fingerprint !== fingerprint) {
      return claimed;
    }
    let binding: Binding;
    try {
      binding = await this.#bind(key, fingerprint);
    } catch (error) {
      // Not bound (NATS failed between the two writes): the claim goes
      // too, or the name would stay this key's for every other node with
      // no binding behind it. A binding made all the same (the answer was
      // lost) keeps it, and is recorded again at its owner's next claim.
      await this.#dropUnboundClaim(skeleton, key, fingerprint).catch(
        () => {},
      );
      throw error;
    }
    // Bound meanwhile by a node that claims no skeletons (an older version),
    // or by a key that took this claim over while this node was late: its
    // owner keeps it, and this key's claim goes (its own only: the other
    // key's claim of the name is what holds its look-alikes).
    if (binding.owner !== fingerprint) {
      await this.#change(skeleton, (claims) => ({
        answer: null,
        next: withoutUser(claims, key, fingerprint),
      }));
      return boundClaim(binding.owner, binding.cut);
    }
    const confirmed = await this.#change(
      skeleton,
      (claims) => confirmUser(claims, key, fingerprint),
    );
    if (confirmed) {
      return boundClaim(fingerprint, binding.cut, binding.revision !== null);
    }
    // Taken over while this node was late (PENDING_CLAIM_MS): the binding
    // goes, or this name and the taker's look-alike would both be bound.
    // Only a binding this try made (its revision) is this try's to undo.
    if (binding.revision !== null) {
      await this.#kv.delete(nameBindingKey(key), {
        previousSeq: binding.revision,
      });
    }
    return null;
  }

  /**
   * Drops `fingerprint`'s claim of the user name `key` from `skeleton`'s
   * claims if the name is not bound (another key's claim of it stays: it
   * may have taken this one over).
   */
  async #dropUnboundClaim(
    skeleton: string,
    key: string,
    fingerprint: string,
  ): Promise<void> {
    if (await this.owner(key) !== null) return;
    await this.#change(skeleton, (claims) => ({
      answer: null,
      next: withoutUser(claims, key, fingerprint),
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
   * Records under their skeletons the groups of the groups bucket made
   * before skeletons were claimed, once for the whole cluster, as
   * `recordOlderBindings` does for user names (its own marker key: nodes
   * of the first version with claims recorded user names only). Resolves
   * to how many were recorded, or null when it was done already.
   */
  async recordOlderGroups(groups: KV): Promise<number | null> {
    const done = await this.#kv.get(GROUP_SKELETONS_RECORDED_KEY);
    if (done !== null && done.operation === "PUT") return null;
    const keys: string[] = [];
    for await (const key of await groups.keys("*")) keys.push(key);
    let recorded = 0;
    for (const key of keys) {
      const entry = await groups.get(key);
      if (entry === null || entry.operation !== "PUT") continue;
      let record;
      try {
        record = parseGroupRecord(entry.value);
      } catch {
        continue; // The groups watch logs a bad record; nothing to record.
      }
      // A record made by a membership change alone names no creator: it is
      // every node's still (the groups bucket), only not claimed here.
      if (!isValidName(record.createdBy)) continue;
      const added = await this.#change(
        skeletonClaimsKey(nameSkeleton(nameKey(record.name))),
        (claims) => {
          const next = withGroup(claims, record.name, record.createdBy);
          return { answer: next !== null, next };
        },
      );
      if (added) recorded++;
    }
    await this.#kv.put(GROUP_SKELETONS_RECORDED_KEY, "1");
    return recorded;
  }

  /**
   * Applies `decide` to a skeleton's claims and writes what it makes of
   * them, if anything, only if no one wrote meanwhile (else decides again).
   * Pending user claims that are stale (staleCandidates, exact name
   * unbound) are left out of what `decide` sees, and so of what it writes.
   */
  async #change<T>(
    key: string,
    decide: (claims: SkeletonClaims | null) => Decision<T>,
  ): Promise<T> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const entry = await this.#kv.get(key);
      const read = entry === null || entry.operation !== "PUT"
        ? null
        : parseSkeletonClaims(entry.value);
      // Each binding is read after the entry. One made since then is
      // followed by its claim's confirmation: written first, it fails this
      // write (the revision moved); written after, it finds the claim gone
      // and its node deletes that binding (claim).
      const stale = [];
      for (const holder of staleCandidates(read, this.#now())) {
        if (await this.owner(nameKey(holder.name)) === null) {
          stale.push(holder);
        }
      }
      const current = withoutStale(read, stale);
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
        if (!isWrongLastSequence(error)) {
          throw error;
        }
      }
    }
    throw new Error(
      `${CLAIM_ATTEMPTS} other claims of look-alike names came first`,
    );
  }

  /** Binds the name if free; resolves to what it is bound to. */
  async #bind(nameKey: string, fingerprint: string): Promise<Binding> {
    const key = nameBindingKey(nameKey);
    // An entry deleted by a release: the name had an earlier key, and every
    // node is to cut what it holds for the name where this key takes it
    // over. The log's end read after the release, before this binding: all
    // that was stored up to there came before this key held the name.
    const before = await this.#kv.get(key);
    const released = before !== null && before.operation !== "PUT";
    const cut: KeyCut | undefined = !released ? undefined : {
      fingerprint,
      after: await this.#logEnd(),
      since: this.#now(),
    };
    try {
      const entry = encodeNameBinding(
        cut === undefined ? { fingerprint } : { fingerprint, cut },
      );
      return {
        owner: fingerprint,
        revision: await this.#kv.create(key, entry),
        ...(cut === undefined ? {} : { cut }),
      };
    } catch (error) {
      // Taken (by this key or another): what it is bound to decides.
      const bound = await this.binding(nameKey);
      if (bound === null) throw error;
      return {
        owner: bound.fingerprint,
        revision: null,
        ...(bound.cut === undefined ? {} : { cut: bound.cut }),
      };
    }
  }

  /** The fingerprint the name is bound to, or null when it is free. */
  async owner(nameKey: string): Promise<string | null> {
    return (await this.binding(nameKey))?.fingerprint ?? null;
  }

  /**
   * The name's binding (name_binding.ts), or null when it is free; throws
   * a TypeError on an entry this version cannot read.
   */
  async binding(nameKey: string): Promise<NameBinding | null> {
    const bound = await this.#kv.get(nameBindingKey(nameKey));
    return bound === null || bound.operation !== "PUT"
      ? null
      : parseNameBinding(bound.string());
  }

  /**
   * Calls `seen` with every name's binding in the bucket, then with each
   * one made later (a watch), until stopped: a node whose own copy binds a
   * name to another key follows it without waiting for the name's next
   * sign-in there. An entry this version cannot read is logged and passed
   * over.
   */
  async watchBindings(
    seen: (nameKey: string, binding: NameBinding) => void,
    log: (line: string) => void,
  ): Promise<{ stop(): void }> {
    const watch = await this.#kv.watch({ include: KvWatchInclude.LastValue });
    (async () => {
      for await (const entry of watch) {
        if (entry.operation !== "PUT") continue;
        const key = nameKeyOfBinding(entry.key);
        if (key === null) continue;
        let binding: NameBinding;
        try {
          binding = parseNameBinding(entry.string());
        } catch (error) {
          log(
            `cluster: passed over a name binding this version cannot read: ${
              messageOf(error)
            }`,
          );
          continue;
        }
        seen(key, binding);
      }
    })().catch((error) =>
      log(`cluster: name bindings watch ended: ${messageOf(error)}`)
    );
    return watch;
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
      // An entry this version cannot read is released all the same, and
      // named as it stands.
      let owner = bound.string();
      try {
        owner = parseNameBinding(owner).fingerprint;
      } catch {
        // As it stands.
      }
      try {
        await this.#kv.delete(key, { previousSeq: bound.revision });
        return owner;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    throw new Error(
      `the name's binding changed ${RELEASE_ATTEMPTS} times while it was released`,
    );
  }
}

/**
 * A name's binding: its owner, its revision when this call made it, and
 * its cut when it was bound again after a release.
 */
interface Binding {
  readonly owner: string;
  readonly revision: number | null;
  readonly cut?: KeyCut;
}

/**
 * The claim's answer for a name bound to `fingerprint`; `made` when the
 * claim made the binding.
 */
function boundClaim(
  fingerprint: string,
  cut: KeyCut | undefined,
  made = false,
): NameClaim {
  return cut === undefined
    ? { kind: "bound", fingerprint }
    : { kind: "bound", fingerprint, cut, ...(made ? { made } : {}) };
}

/** What `releaseClusterName` did. */
export interface ClusterRelease {
  /** The fingerprint the name was bound to. */
  readonly was: string;
  /** The groups it was taken out of, sorted. */
  readonly groups: readonly string[];
}

/** The journal's node for the changes `chat admin release` makes. */
const ADMIN_NODE = "chatadmin";

/**
 * `chat admin release NAME --cluster URLS`: frees `name` in the cluster's
 * names bucket, deletes the prekeys published for it and takes it out of
 * its groups; resolves to what it was bound to and the groups it left, or
 * null when it was not bound.
 */
export async function releaseClusterName(
  urls: readonly string[],
  name: string,
): Promise<ClusterRelease | null> {
  const nc = await connectNats(urls, "chat-admin");
  try {
    const names = new ClusterNames(
      await openBucket(nc, NAMES_BUCKET, 0),
      "chat-admin",
    );
    const was = await names.release(nameKey(name));
    // The end-to-end keys published under the old key go with it: until
    // the next owner publishes, nobody is handed the old key's for the name.
    const prekeys = await openBucket(nc, PREKEYS_BUCKET, 0);
    await prekeys.delete(prekeysKey(nameKey(name)));
    if (was === null) return null;
    // Its groups go now, as one server's release ends its memberships: in
    // the groups bucket, which every node follows (a node that is down
    // finds the name gone from them when it is back). The next key's
    // binding node cuts only what the old key joined after this.
    const groups = await leaveEveryGroup(
      await openBucket(nc, GROUPS_BUCKET, 0),
      name,
      ADMIN_NODE,
    );
    return { was, groups };
  } finally {
    await nc.close();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
