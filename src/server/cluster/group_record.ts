// This module is browser compatible.

/**
 * A group as the groups bucket keeps it (subjects.ts), shared by a
 * cluster's nodes: its name, who made it and when, its members in join
 * order. A node changes it by applying its own change to the latest record
 * and writing the result only if no one wrote meanwhile (compare-and-set),
 * so concurrent joins on two nodes both land.
 *
 * A record also keeps its last membership changes, numbered: the bucket
 * keeps only the newest record, and a node's watch that falls behind skips
 * the ones in between, so a notice made from the difference alone would be
 * lost for someone who joined and left meanwhile (remote_groups.ts).
 */

import { isValidName, nameKey } from "../../protocol/limits.ts";
import type { GroupChange } from "../group.ts";
import { NODE_ID_PATTERN } from "./subjects.ts";

export interface GroupRecord {
  readonly name: string;
  readonly createdBy: string;
  readonly createdAt: number;
  /** Member names, in join order, once each ignoring case. */
  readonly members: readonly string[];
  /** How many membership changes the group has had (0 when absent). */
  readonly count?: number;
  /** The last {@link JOURNAL_LENGTH} of them, oldest first, numbered 1.. */
  readonly changes?: readonly MemberChange[];
}

/** One membership change, and the node where it was made. */
export interface MemberChange {
  readonly n: number;
  readonly member: string;
  readonly joined: boolean;
  readonly node: string;
}

/** Membership changes a record keeps. */
export const JOURNAL_LENGTH = 32;

/**
 * `record` with `change` made; a change to a group not there creates it.
 * With `node` (where it was made), a membership change is kept in the
 * record's journal too.
 */
export function applyGroupChange(
  record: GroupRecord | null,
  change: GroupChange,
  node?: string,
): GroupRecord {
  const changed = applyMembers(record, change);
  if (node === undefined || changed === record || change.kind === "create") {
    return changed;
  }
  const n = (changed.count ?? 0) + 1;
  return {
    ...changed,
    count: n,
    changes: [
      ...(changed.changes ?? []),
      { n, member: change.member, joined: change.kind === "add", node },
    ].slice(-JOURNAL_LENGTH),
  };
}

function applyMembers(
  record: GroupRecord | null,
  change: GroupChange,
): GroupRecord {
  const base: GroupRecord = record ?? {
    name: change.group,
    createdBy: change.kind === "create" ? change.createdBy : "",
    createdAt: change.kind === "create" ? change.createdAt : 0,
    members: [],
  };
  switch (change.kind) {
    case "create":
      // Made on two nodes at once: one group, and the makers join it.
      return base;
    case "add": {
      const key = nameKey(change.member);
      return base.members.some((m) => nameKey(m) === key)
        ? base
        : { ...base, members: [...base.members, change.member] };
    }
    case "remove": {
      const key = nameKey(change.member);
      return base.members.some((m) => nameKey(m) === key)
        ? { ...base, members: base.members.filter((m) => nameKey(m) !== key) }
        : base;
    }
    default: {
      const unknown: never = change;
      throw new TypeError(`Unknown group change ${JSON.stringify(unknown)}`);
    }
  }
}

export function encodeGroupRecord(record: GroupRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

/** The record in `bytes`; throws a TypeError when it is not one. */
export function parseGroupRecord(bytes: Uint8Array): GroupRecord {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new TypeError("Group record is not JSON");
  }
  if (typeof value !== "object" || value === null) {
    throw new TypeError("Group record is not an object");
  }
  const { name, createdBy, createdAt, members } = value as Record<
    string,
    unknown
  >;
  if (typeof name !== "string" || !isValidName(name)) {
    throw new TypeError("Group record has a bad name");
  }
  if (
    typeof createdBy !== "string" ||
    (createdBy !== "" && !isValidName(createdBy))
  ) {
    throw new TypeError("Group record has a bad creator");
  }
  if (
    typeof createdAt !== "number" || !Number.isSafeInteger(createdAt) ||
    createdAt < 0
  ) {
    throw new TypeError("Group record has a bad creation time");
  }
  if (
    !Array.isArray(members) ||
    !members.every((m) => typeof m === "string" && isValidName(m)) ||
    new Set(members.map((m) => nameKey(m as string))).size !== members.length
  ) {
    throw new TypeError("Group record has bad members");
  }
  const { count, changes } = value as Record<string, unknown>;
  if (count === undefined && changes === undefined) {
    return { name, createdBy, createdAt, members: members as string[] };
  }
  if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
    throw new TypeError("Group record has a bad change count");
  }
  if (!Array.isArray(changes) || changes.length > JOURNAL_LENGTH) {
    throw new TypeError("Group record has bad changes");
  }
  const journal = changes.map((one, i): MemberChange => {
    const { n, member, joined, node } = (one ?? {}) as Record<string, unknown>;
    if (
      n !== count - changes.length + 1 + i ||
      typeof member !== "string" || !isValidName(member) ||
      typeof joined !== "boolean" ||
      typeof node !== "string" || !NODE_ID_PATTERN.test(node)
    ) {
      throw new TypeError("Group record has a bad change");
    }
    return { n, member, joined, node };
  });
  return {
    name,
    createdBy,
    createdAt,
    members: members as string[],
    count,
    changes: journal,
  };
}

/**
 * The changes of `record` after the `seen`th, in order; null when its
 * journal no longer holds them all (then only the difference is known).
 */
export function changesSince(
  record: GroupRecord,
  seen: number,
): MemberChange[] | null {
  // Written by a node that keeps no journal: only the difference is known.
  if (record.count === undefined) return null;
  const count = record.count;
  if (seen >= count) return [];
  const changes = record.changes ?? [];
  const first = changes[0]?.n ?? count + 1;
  if (first > seen + 1) return null;
  return changes.filter((one) => one.n > seen);
}
