// This module is browser compatible.

/**
 * A group as the groups bucket keeps it (subjects.ts), shared by a
 * cluster's nodes: its name, who made it and when, its members in join
 * order. A node changes it by applying its own change to the latest record
 * and writing the result only if no one wrote meanwhile (compare-and-set),
 * so concurrent joins on two nodes both land.
 */

import { isValidName, nameKey } from "../../protocol/limits.ts";
import type { GroupChange } from "../group.ts";

export interface GroupRecord {
  readonly name: string;
  readonly createdBy: string;
  readonly createdAt: number;
  /** Member names, in join order, once each ignoring case. */
  readonly members: readonly string[];
}

/** `record` with `change` made; a change to a group not there creates it. */
export function applyGroupChange(
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
      return {
        ...base,
        members: base.members.filter((m) => nameKey(m) !== key),
      };
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
  return { name, createdBy, createdAt, members: members as string[] };
}
