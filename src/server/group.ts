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
