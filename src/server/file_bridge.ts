// This module is browser compatible.

/**
 * Files from users on other nodes of a cluster to users here (issue 19),
 * as this node passes them on. The sender's node runs the transfer
 * (transfers.ts) and owns its flow control; this node only renumbers it for
 * its user, since transfer ids are per node: an offer from node N with id X
 * becomes this node's id L (taken from this node's own transfers, so that
 * it never clashes with one), and what the user answers about L goes back to
 * N as X.
 *
 * Core NATS carries it at most once: a chunk lost between the nodes (a NATS
 * restart, a slow consumer cut off) shows here as a chunk at another offset
 * than the next, or an end before the last byte. The transfer then stops
 * for this recipient as if their connection broke: resumable (PROTOCOL 5.6
 * "Resume"), so the sender offers it again and it goes on from what they
 * hold.
 */

import type { ConnId } from "./session.ts";

export interface Bridged {
  /** The sender's node, and the transfer's id there. */
  readonly node: string;
  readonly xfer: number;
  /** The recipient's connection here, and the id they know it by. */
  readonly conn: ConnId;
  readonly local: number;
}

/**
 * What a chunk or an end from the sender's node is, as this node sees it:
 * in order (passed on), after one that was lost (the transfer stops,
 * resumable), or after the file's end (its last byte or its end was passed
 * on): a duplicate or a forgery, dropped, since the recipient may already hold
 * the whole file and must not be told it failed.
 */
export type BridgeCheck =
  | { readonly kind: "in_order" }
  | { readonly kind: "lost"; readonly expected: number }
  | { readonly kind: "after_end" };

const IN_ORDER: BridgeCheck = { kind: "in_order" };
const AFTER_END: BridgeCheck = { kind: "after_end" };

export class FileBridge {
  readonly #byLocal = new Map<number, Bridged>();
  readonly #byRemote = new Map<string, Bridged>();
  /**
   * Per local id: the file's size, the offset the next chunk must have,
   * whether the end was passed on, and what the recipient acknowledged
   * (from the first chunk's offset: a resume starts there).
   */
  readonly #progress = new Map<
    number,
    { size: number; next: number | null; ended: boolean; acked: number }
  >();

  get size(): number {
    return this.#byLocal.size;
  }

  open(
    node: string,
    xfer: number,
    conn: ConnId,
    local: number,
    size: number,
  ): Bridged {
    const bridged = { node, xfer, conn, local };
    this.#byLocal.set(local, bridged);
    this.#progress.set(local, { size, next: null, ended: false, acked: 0 });
    this.#byRemote.set(remoteKey(node, xfer, conn), bridged);
    return bridged;
  }

  /** The transfer `xfer` of `node` as `conn` knows it here. */
  fromRemote(node: string, xfer: number, conn: ConnId): Bridged | undefined {
    return this.#byRemote.get(remoteKey(node, xfer, conn));
  }

  /** The transfer `conn` knows as `local`; undefined if it is not bridged. */
  fromLocal(local: number, conn: ConnId): Bridged | undefined {
    const bridged = this.#byLocal.get(local);
    return bridged?.conn === conn ? bridged : undefined;
  }

  /**
   * A chunk of `bytes` (plaintext) at `offset` came for `bridged`: in order
   * if it follows the last one (the first may start anywhere: a resume).
   * Once the file's last byte was passed on nothing can be missing, so a
   * further chunk is after the end even before the end itself comes.
   */
  chunk(bridged: Bridged, offset: number, bytes: number): BridgeCheck {
    const progress = this.#progress.get(bridged.local);
    if (progress === undefined) return IN_ORDER;
    if (progress.ended || progress.next === progress.size) return AFTER_END;
    if (progress.next !== null && offset !== progress.next) {
      return { kind: "lost", expected: progress.next };
    }
    if (progress.next === null) progress.acked = offset;
    progress.next = offset + bytes;
    return IN_ORDER;
  }

  /**
   * The end came for `bridged`: in order if its chunks reached the file's
   * size (or none came: the sender had it all already).
   */
  end(bridged: Bridged): BridgeCheck {
    const progress = this.#progress.get(bridged.local);
    if (progress === undefined) return IN_ORDER;
    if (progress.ended) return AFTER_END;
    if (progress.next !== null && progress.next !== progress.size) {
      return { kind: "lost", expected: progress.next };
    }
    progress.ended = true;
    return IN_ORDER;
  }

  /**
   * Whether the recipient's acknowledgement of `received` bytes moves the
   * transfer as its sender's node's window counts it (paced_by_others.ts):
   * no further than what was passed on, and either all of it and more than
   * before, or at least `least` bytes more than before.
   */
  ackMoves(bridged: Bridged, received: number, least: number): boolean {
    const progress = this.#progress.get(bridged.local);
    if (progress === undefined || progress.next === null) return false;
    return received <= progress.next &&
      (received === progress.next
        ? received > progress.acked
        : received - progress.acked >= least);
  }

  /** The recipient acknowledged `received` bytes (passed on to the sender's node). */
  acked(bridged: Bridged, received: number): void {
    const progress = this.#progress.get(bridged.local);
    if (progress !== undefined && received > progress.acked) {
      progress.acked = received;
    }
  }

  close(bridged: Bridged): void {
    this.#progress.delete(bridged.local);
    this.#byLocal.delete(bridged.local);
    this.#byRemote.delete(remoteKey(bridged.node, bridged.xfer, bridged.conn));
  }

  /** Closes and returns every transfer bridged to `conn` (it is gone). */
  dropConnection(conn: ConnId): Bridged[] {
    const gone = [...this.#byLocal.values()].filter((b) => b.conn === conn);
    for (const bridged of gone) this.close(bridged);
    return gone;
  }

  /** Closes and returns every transfer from `node` (it is gone). */
  dropNode(node: string): Bridged[] {
    const gone = [...this.#byLocal.values()].filter((b) => b.node === node);
    for (const bridged of gone) this.close(bridged);
    return gone;
  }
}

function remoteKey(node: string, xfer: number, conn: ConnId): string {
  return `${node} ${xfer} ${conn}`;
}
