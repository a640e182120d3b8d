// This module is browser compatible.

/** A group as the room shows it: a name and its members. */

import type { Timestamp } from "../protocol/messages.ts";

export interface Group {
  /** The name as it was created. */
  readonly name: string;
  readonly key: string;
  /** Member name key → name as the member registered it, in join order. */
  readonly members: ReadonlyMap<string, string>;
  readonly createdBy: string;
  readonly createdAt: Timestamp;
}

/**
 * A change to a group made here, for the other nodes of a cluster (issue
 * 19, cluster/groups.ts): recorded by the state only when asked to
 * (ServerState.recordGroupChanges), so a single node keeps none.
 */
export type GroupChange =
  | {
    readonly kind: "create";
    readonly group: string;
    readonly createdBy: string;
    readonly createdAt: Timestamp;
  }
  | { readonly kind: "add"; readonly group: string; readonly member: string }
  | {
    readonly kind: "remove";
    readonly group: string;
    readonly member: string;
  };
