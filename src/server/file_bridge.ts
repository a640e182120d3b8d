// This module is browser compatible.

/**
 * Files from users on other nodes of a cluster to users here (issue 19),
 * as this node passes them on. The sender's node runs the transfer
 * (transfers.ts) and owns its flow control; this node only renumbers it for
 * its user, since transfer ids are per node: an offer from node N with id X
 * becomes this node's id L (taken from this node's own transfers, so that
 * it never clashes with one), and what the user answers about L goes back to
 * N as X.
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

export class FileBridge {
  readonly #byLocal = new Map<number, Bridged>();
  readonly #byRemote = new Map<string, Bridged>();

  get size(): number {
    return this.#byLocal.size;
  }

  open(node: string, xfer: number, conn: ConnId, local: number): Bridged {
    const bridged = { node, xfer, conn, local };
    this.#byLocal.set(local, bridged);
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

  close(bridged: Bridged): void {
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
