// This module is browser compatible.

/**
 * Users on other nodes of a cluster who receive a file from a user here
 * (issue 19): the transfer table (transfer_table.ts) knows recipients by
 * connection id, so each such user gets a stand-in id here, negative so that
 * it is never a connection's. Nothing is delivered to a stand-in: what the
 * transfer logic sends it crosses to the user's node (cluster/bus_event.ts
 * fileCrossings), and what that node says back comes in under it.
 */

import type { ConnId } from "./session.ts";

export interface RemoteRecipient {
  readonly name: string;
  readonly nameKey: string;
}

export class RemoteRecipients {
  readonly #byId = new Map<ConnId, RemoteRecipient>();
  readonly #byKey = new Map<string, ConnId>();
  #next = -1;

  /** The stand-in id of `name` (the same while this process runs). */
  idOf(name: string, nameKey: string): ConnId {
    const known = this.#byKey.get(nameKey);
    if (known !== undefined) {
      // The name as they use it now.
      this.#byId.set(known, { name, nameKey });
      return known;
    }
    const id = this.#next--;
    this.#byId.set(id, { name, nameKey });
    this.#byKey.set(nameKey, id);
    return id;
  }

  /** Who a stand-in id stands for; undefined for a connection's id. */
  get(id: ConnId): RemoteRecipient | undefined {
    return this.#byId.get(id);
  }

  /** The stand-in id of a name key, if it was ever given one. */
  byKey(nameKey: string): ConnId | undefined {
    return this.#byKey.get(nameKey);
  }
}
