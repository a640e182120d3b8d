/**
 * The connections the core serves, by id: each one's channel, address
 * group, when it was last heard from, and the acknowledgements it sent past
 * its rate limit (held_acks.ts).
 */

import type { SecureChannel } from "../transport/secure_channel.ts";
import { HeldAcks } from "./held_acks.ts";
import type { Step } from "./run_step.ts";
import type { ConnId, ServerState } from "./state.ts";

export class ServedConnections {
  /** The channel of each connection served; gone once it is dismissed. */
  readonly channels = new Map<ConnId, SecureChannel>();
  /**
   * Each connection's address group (address_group.ts): the log's limiter
   * keys by it, not by "ip:port", or every new connection is a new key.
   */
  readonly groups = new Map<ConnId, string>();
  /** When each connection last sent us anything. */
  readonly lastHeard = new Map<ConnId, number>();
  /** Acknowledgements held per connection (held_acks.ts). */
  readonly #heldAcks = new Map<ConnId, HeldAcks>();
  #nextId = 1;

  /** An id for a new connection, never given before. */
  newId(): ConnId {
    return this.#nextId++;
  }

  groupOf(id: ConnId): string {
    return this.groups.get(id) ?? "";
  }

  heldAcksOf(id: ConnId): HeldAcks {
    let held = this.#heldAcks.get(id);
    if (held === undefined) this.#heldAcks.set(id, held = new HeldAcks());
    return held;
  }

  /** How many cursors `id` holds (applied with its next `ack` let through). */
  heldAckCount(id: ConnId): number {
    return this.#heldAcks.get(id)?.size ?? 0;
  }

  /** What `id` held, as `ack` steps to route; then nothing is held for it. */
  takeHeldAcks(id: ConnId): Step[] {
    const held = this.#heldAcks.get(id);
    if (held === undefined) return [];
    this.#heldAcks.delete(id);
    return held.take().map((cursors) => ({
      message: { t: "ack", cursors },
      body: new Uint8Array(0),
    }));
  }

  /** Forgets what `id` held, unapplied. */
  dropHeldAcks(id: ConnId): void {
    this.#heldAcks.delete(id);
  }
}

/** A connection for the log: its user's name if signed in, and address. */
export function describe(
  state: ServerState,
  id: ConnId,
  channel: SecureChannel,
): string {
  const name = state.nameOf(id);
  return name === null
    ? channel.remoteAddress
    : `${name} (${channel.remoteAddress})`;
}
