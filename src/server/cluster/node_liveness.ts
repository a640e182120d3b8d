// This module is browser compatible.

/**
 * Which other nodes of a cluster are alive, from their heartbeats (issue
 * 19, cluster/presence.ts): a node is alive while it was heard from within
 * the time to live. JetStream's own expiry of a heartbeat tells watchers
 * nothing, so each node keeps time itself.
 */

export class NodeLiveness {
  readonly #lastHeard = new Map<string, number>();
  /**
   * When each node that said it stopped wrote its goodbye (NATS's clock).
   * Kept for the life of this node: one short entry per node stop, as a
   * node takes a new name at each start.
   */
  readonly #goodbyes = new Map<string, number>();

  /** `node` was heard from at `at` (never moves back in time). */
  heard(node: string, at: number): void {
    const last = this.#lastHeard.get(node);
    if (last === undefined || at > last) this.#lastHeard.set(node, at);
  }

  /**
   * `node` has entries but was never heard from: it counts as heard from at
   * `at`, so a node just started waits one TTL for its heartbeat before it
   * drops that node's users.
   */
  known(node: string, at: number): void {
    if (!this.#lastHeard.has(node)) this.#lastHeard.set(node, at);
  }

  /**
   * Every known node counts as heard from at `at`: this node could not hear
   * anyone until then (its NATS connection was down), which says nothing of
   * the others.
   */
  renewAll(at: number): void {
    for (const [node, last] of this.#lastHeard) {
      if (at > last) this.#lastHeard.set(node, at);
    }
  }

  /** `node` said it stopped, in a goodbye written at `written`. */
  gone(node: string, written: number): void {
    this.#lastHeard.delete(node);
    const last = this.#goodbyes.get(node);
    if (last === undefined || written > last) {
      this.#goodbyes.set(node, written);
    }
  }

  /**
   * Whether news of `node` written at `written` (NATS's clock) was written
   * before its goodbye, so says nothing of it now. A node's heartbeat and
   * its users' entries are in two buckets, which reach a watcher in no order
   * between them: an entry written just before the goodbye can come after
   * it, and must not make the node alive again (to be found "not heard
   * from" a TTL later). News written after a goodbye is a node started
   * again under that name: it counts.
   */
  isStale(node: string, written: number): boolean {
    const goodbye = this.#goodbyes.get(node);
    return goodbye !== undefined && written <= goodbye;
  }

  /** The nodes not heard from for longer than `ttlMs` before `now`, forgotten. */
  expire(now: number, ttlMs: number): string[] {
    const dead: string[] = [];
    for (const [node, at] of this.#lastHeard) {
      if (now - at > ttlMs) dead.push(node);
    }
    for (const node of dead) this.#lastHeard.delete(node);
    return dead;
  }
}
