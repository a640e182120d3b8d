// This module is browser compatible.

/**
 * Who holds the names of one skeleton (protocol/name_skeleton.ts) across a
 * cluster: the entry of the names bucket under the skeleton's key
 * (subjects.ts skeletonClaimsKey), beside the exact bindings. A node claims
 * a new user or group name here (compare-and-set) before binding it, so two
 * nodes racing for `alice` and `a1ice` under two keys, or for a user and a
 * group `bob`, cannot both win, and a name bound on a node where its owner
 * is offline is seen from every other one. These functions decide; names.ts
 * reads and writes.
 *
 * Value: `{"users":[{"name","fingerprint","pending"?}],"groups":[{"name","createdBy"}]}`,
 * `pending` `{"node","since"}` while a user name's exact binding has not
 * been confirmed (names.ts claim). Persisted in a running cluster: the
 * fields keep their meaning.
 */

import { isValidName, nameKey } from "../../protocol/limits.ts";
import type { NameClaim } from "../identity_gate.ts";

/** A user name of the skeleton, bound (or being bound) to a key. */
export interface UserHolder {
  /** As its owner claimed it. */
  readonly name: string;
  readonly fingerprint: string;
  /**
   * Present from the claim until its claimant confirms the exact binding:
   * a claimant that died in between leaves it, and it can be taken over
   * (staleCandidates). Absent: bound (or recorded before this field).
   */
  readonly pending?: PendingClaim;
}

/** Who claimed a user name whose binding is not confirmed yet, and when. */
export interface PendingClaim {
  /** The claiming node's id (ClusterNode.id), for the operator. */
  readonly node: string;
  /** Milliseconds since the epoch, by the claiming node's clock. */
  readonly since: number;
}

/**
 * How long a pending claim waits for its binding before another claimant
 * may take it over (if its exact name is still unbound). Only liveness
 * hangs on it: a claimant slower than this loses its claim at its
 * confirmation (compare-and-set), never two look-alikes both bound
 * (names.ts claim says why).
 */
export const PENDING_CLAIM_MS = 30_000;

/** A group of the skeleton, and who created it (a user name). */
export interface GroupHolder {
  readonly name: string;
  readonly createdBy: string;
}

export interface SkeletonClaims {
  readonly users: readonly UserHolder[];
  readonly groups: readonly GroupHolder[];
}

/** What the cluster says of a new group's name (router.ts create). */
export type GroupNameClaim =
  /**
   * Free for this creator; `added`: the claim was written for it (false
   * when the group exists already: the router refuses or it is one group).
   */
  | { kind: "claimed"; added: boolean }
  /** It is or looks like the name of the user `name`. */
  | { kind: "user"; name: string }
  /** It looks like the name of the group `name`, someone else's. */
  | { kind: "group"; name: string };

/** An answer, and the claims to write for it (null: nothing to write). */
export interface Decision<T> {
  readonly answer: T;
  readonly next: SkeletonClaims | null;
}

const NONE: SkeletonClaims = { users: [], groups: [] };

/**
 * A key claiming a user name it does not hold yet. Refused when a group is
 * called so or like it, or another key holds a name of the skeleton (the
 * name itself: `bound` to that key); else it is added, `pending` until its
 * binding is confirmed (confirmUser).
 */
export function claimUser(
  claims: SkeletonClaims | null,
  name: string,
  fingerprint: string,
  pending?: PendingClaim,
): Decision<NameClaim> {
  const held = claims ?? NONE;
  const key = nameKey(name);
  const group = held.groups.find((g) => nameKey(g.name) === key) ??
    held.groups[0];
  if (group !== undefined) {
    return { answer: { kind: "group", name: group.name }, next: null };
  }
  const other = held.users.find((user) => user.fingerprint !== fingerprint);
  if (other !== undefined) {
    return {
      answer: nameKey(other.name) === key
        ? { kind: "bound", fingerprint: other.fingerprint }
        : { kind: "lookalike", name: other.name },
      next: null,
    };
  }
  // Claimed for this key already (an earlier try): nothing to add.
  const mine = held.users.some((user) =>
    nameKey(user.name) === key && user.fingerprint === fingerprint
  );
  return {
    answer: { kind: "bound", fingerprint },
    next: mine ? null : {
      ...held,
      users: [
        ...held.users,
        pending === undefined
          ? { name, fingerprint }
          : { name, fingerprint, pending },
      ],
    },
  };
}

/**
 * The claimant of the user name `key` for `fingerprint` confirms it, its
 * binding made: true (its pending mark dropped) while its claim is there,
 * false when another claimant took it over meanwhile.
 */
export function confirmUser(
  claims: SkeletonClaims | null,
  key: string,
  fingerprint: string,
): Decision<boolean> {
  const held = claims ?? NONE;
  const index = held.users.findIndex((user) =>
    nameKey(user.name) === key && user.fingerprint === fingerprint
  );
  const found = held.users[index];
  if (found === undefined) return { answer: false, next: null };
  if (found.pending === undefined) return { answer: true, next: null };
  const users = [...held.users];
  users[index] = { name: found.name, fingerprint };
  return { answer: true, next: { ...held, users } };
}

/**
 * The user names pending for `PENDING_CLAIM_MS` or longer at `now`: their
 * claimant's binding never came, or is late. Each may be taken over if its
 * exact name is still unbound (names.ts reads that).
 */
export function staleCandidates(
  claims: SkeletonClaims | null,
  now: number,
): UserHolder[] {
  return (claims?.users ?? []).filter((user) =>
    user.pending !== undefined && now - user.pending.since >= PENDING_CLAIM_MS
  );
}

/** `claims` without the user names `stale` (taken over); as is if none. */
export function withoutStale(
  claims: SkeletonClaims | null,
  stale: readonly UserHolder[],
): SkeletonClaims | null {
  if (claims === null || stale.length === 0) return claims;
  return {
    ...claims,
    users: claims.users.filter((user) => !stale.includes(user)),
  };
}

/**
 * A user creating a group. Refused when a user name of the skeleton is
 * held (the creator's own too: one namespace), or a group of the skeleton
 * with another name is another creator's; else it is added.
 */
export function claimGroup(
  claims: SkeletonClaims | null,
  name: string,
  creator: string,
): Decision<GroupNameClaim> {
  const held = claims ?? NONE;
  const key = nameKey(name);
  const user = held.users.find((u) => nameKey(u.name) === key) ??
    held.users[0];
  if (user !== undefined) {
    return { answer: { kind: "user", name: user.name }, next: null };
  }
  if (held.groups.some((group) => nameKey(group.name) === key)) {
    return { answer: { kind: "claimed", added: false }, next: null };
  }
  const other = held.groups.find((group) =>
    nameKey(group.createdBy) !== nameKey(creator)
  );
  if (other !== undefined) {
    return { answer: { kind: "group", name: other.name }, next: null };
  }
  return {
    answer: { kind: "claimed", added: true },
    next: { ...held, groups: [...held.groups, { name, createdBy: creator }] },
  };
}

/**
 * `claims` with `name` held by `fingerprint` and bound, whoever else holds
 * one (a binding made before skeletons were claimed is recorded as it is);
 * a pending claim of it is confirmed (its binding is there: its claimant
 * died before confirming it). Null when it is there already, bound.
 */
export function withUser(
  claims: SkeletonClaims | null,
  name: string,
  fingerprint: string,
): SkeletonClaims | null {
  const held = claims ?? NONE;
  const key = nameKey(name);
  const found = held.users.find((user) =>
    nameKey(user.name) === key && user.fingerprint === fingerprint
  );
  if (found === undefined) {
    return { ...held, users: [...held.users, { name, fingerprint }] };
  }
  return confirmUser(held, key, fingerprint).next;
}

/**
 * `claims` with the group `name` made by `createdBy` (a group made before
 * skeletons were claimed is recorded as it is); null when it is there.
 */
export function withGroup(
  claims: SkeletonClaims | null,
  name: string,
  createdBy: string,
): SkeletonClaims | null {
  const held = claims ?? NONE;
  const key = nameKey(name);
  if (held.groups.some((group) => nameKey(group.name) === key)) return null;
  return { ...held, groups: [...held.groups, { name, createdBy }] };
}

/**
 * `claims` without the user name `nameKey`: every key's claim of it, or
 * only `fingerprint`'s when given (a claimant dropping its own, which must
 * not take the claim of a key that took a stale one over: names.ts claim);
 * null when it is not there.
 */
export function withoutUser(
  claims: SkeletonClaims | null,
  key: string,
  fingerprint?: string,
): SkeletonClaims | null {
  if (claims === null) return null;
  const users = claims.users.filter((user) =>
    nameKey(user.name) !== key ||
    (fingerprint !== undefined && user.fingerprint !== fingerprint)
  );
  return users.length === claims.users.length ? null : { ...claims, users };
}

/** `claims` without the group `groupKey`; null when it is not there. */
export function withoutGroup(
  claims: SkeletonClaims | null,
  groupKey: string,
): SkeletonClaims | null {
  if (claims === null) return null;
  const groups = claims.groups.filter((group) =>
    nameKey(group.name) !== groupKey
  );
  return groups.length === claims.groups.length ? null : { ...claims, groups };
}

export function encodeSkeletonClaims(claims: SkeletonClaims): string {
  return JSON.stringify({
    users: claims.users.map(({ name, fingerprint, pending }) =>
      pending === undefined ? { name, fingerprint } : {
        name,
        fingerprint,
        pending: { node: pending.node, since: pending.since },
      }
    ),
    groups: claims.groups.map(({ name, createdBy }) => ({ name, createdBy })),
  });
}

/** Parses an entry; TypeError when it is not one. */
export function parseSkeletonClaims(bytes: Uint8Array): SkeletonClaims {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new TypeError("skeleton claims are not JSON");
  }
  if (typeof value !== "object" || value === null) {
    throw new TypeError("skeleton claims are not an object");
  }
  const { users, groups } = value as Record<string, unknown>;
  if (!Array.isArray(users) || !Array.isArray(groups)) {
    throw new TypeError("skeleton claims need users and groups");
  }
  return {
    users: users.map((user): UserHolder => {
      const holder = {
        name: validName(user, "name"),
        fingerprint: text(user, "fingerprint"),
      };
      const pending = (user as Record<string, unknown>).pending;
      return pending === undefined
        ? holder
        : { ...holder, pending: pendingClaim(pending) };
    }),
    groups: groups.map((group) => ({
      name: validName(group, "name"),
      createdBy: validName(group, "createdBy"),
    })),
  };
}

function pendingClaim(value: unknown): PendingClaim {
  const since = typeof value === "object" && value !== null
    ? (value as Record<string, unknown>).since
    : undefined;
  if (typeof since !== "number" || !Number.isFinite(since)) {
    throw new TypeError("a pending skeleton claim needs since");
  }
  return { node: text(value, "node"), since };
}

function text(value: unknown, field: string): string {
  const found = typeof value === "object" && value !== null
    ? (value as Record<string, unknown>)[field]
    : undefined;
  if (typeof found !== "string" || found === "") {
    throw new TypeError(`a skeleton claim needs ${field}`);
  }
  return found;
}

function validName(value: unknown, field: string): string {
  const name = text(value, field);
  if (!isValidName(name)) {
    throw new TypeError(`a skeleton claim's ${field} is not a valid name`);
  }
  return name;
}
