// This module is browser compatible.

/**
 * Users signed in on other nodes of a cluster (issue 19), as this node last
 * heard of them: what `/list` shows beside this node's sessions and what
 * makes a private message to them "online". Empty on a single node.
 *
 * A user may be signed in on several nodes at once (for a moment, while a
 * newer session takes over); each node's report is an entry of its own, and
 * the user is online here while any entry is. When a node stops being heard
 * from, all its entries go at once (cluster/presence.ts decides when).
 */

import type { Timestamp } from "../protocol/messages.ts";
import { SkeletonIndex } from "./skeleton_index.ts";

/** A user on another node, as that node reports them. */
export interface RemoteUser {
  readonly name: string;
  readonly nameKey: string;
  /** The node they are signed in on (its id, cluster/node.ts). */
  readonly node: string;
  readonly connectedAt: Timestamp;
  readonly lastMessageAt: Timestamp | null;
  readonly fingerprint: string | null;
  readonly away: string | null;
}

/** A user who came online or went offline here (no other entry left). */
export interface PresenceChange {
  readonly name: string;
  readonly online: boolean;
}

export class RemoteUsers {
  /** By entry key (name key and node, cluster/subjects.ts), oldest first. */
  readonly #entries = new Map<string, RemoteUser>();
  /** Entry keys by name key, in the order the users were first seen. */
  readonly #byName = new Map<string, Set<string>>();
  /** Their name keys by skeleton: who a new name looks like (lookalikes). */
  readonly #similar = new SkeletonIndex();

  get size(): number {
    return this.#byName.size;
  }

  /**
   * Records or updates an entry; a change when the user was not online
   * here before.
   */
  put(entry: string, user: RemoteUser): PresenceChange | null {
    const old = this.#entries.get(entry);
    if (old !== undefined && old.nameKey !== user.nameKey) {
      this.#forget(entry, old.nameKey);
    }
    // Re-inserted: the newest entry is last (get).
    this.#entries.delete(entry);
    this.#entries.set(entry, user);
    let entries = this.#byName.get(user.nameKey);
    const came = entries === undefined;
    if (entries === undefined) {
      this.#byName.set(user.nameKey, entries = new Set());
      this.#similar.add(user.nameKey);
    }
    entries.add(entry);
    return came ? { name: user.name, online: true } : null;
  }

  /** Removes an entry; a change when it was the user's last one. */
  delete(entry: string): PresenceChange | null {
    const old = this.#entries.get(entry);
    if (old === undefined) return null;
    this.#entries.delete(entry);
    return this.#forget(entry, old.nameKey)
      ? { name: old.name, online: false }
      : null;
  }

  /** Removes every entry of `node` (gone); the users who went offline. */
  dropNode(node: string): PresenceChange[] {
    const changes: PresenceChange[] = [];
    for (const [entry, user] of this.#entries) {
      if (user.node !== node) continue;
      const change = this.delete(entry);
      if (change !== null) changes.push(change);
    }
    return changes;
  }

  /** The user with this name key, from their newest entry; undefined when offline. */
  get(nameKey: string): RemoteUser | undefined {
    const entries = this.#byName.get(nameKey);
    if (entries === undefined) return undefined;
    let newest: RemoteUser | undefined;
    for (const entry of entries) {
      const user = this.#entries.get(entry);
      if (
        user !== undefined &&
        (newest === undefined || user.connectedAt >= newest.connectedAt)
      ) {
        newest = user;
      }
    }
    return newest;
  }

  /**
   * The users online elsewhere whose names look like `name`
   * (protocol/name_skeleton.ts), `name` itself left out.
   */
  lookalikes(name: string): RemoteUser[] {
    return this.#similar.keysLike(name).flatMap((key) => this.get(key) ?? []);
  }

  /** Every user online elsewhere, once each, in the order first seen. */
  *users(): IterableIterator<RemoteUser> {
    for (const key of this.#byName.keys()) {
      const user = this.get(key);
      if (user !== undefined) yield user;
    }
  }

  /** True when that was the name's last entry. */
  #forget(entry: string, nameKey: string): boolean {
    const entries = this.#byName.get(nameKey);
    if (entries === undefined) return false;
    entries.delete(entry);
    if (entries.size > 0) return false;
    this.#byName.delete(nameKey);
    this.#similar.delete(nameKey);
    return true;
  }
}
