// This module is browser compatible.

/**
 * Whether the server may hold this client's end-to-end keys, for counting
 * the user's own name among the names that use them (plain_messages.ts):
 * a plain note to oneself, or a plain group line under one's name, is
 * refused or warned of because a client with its keys sends them end to
 * end. A client whose keys the server never took (its publish refused, or
 * a server from before end-to-end keys) is told "no keys" about itself and
 * sends its notes to itself in the clear: refusing them hid the user's own
 * words as the host's.
 *
 * Until a publish has been answered the keys count as held (a reply that
 * never comes must not open the door to plain lines under the user's
 * name); once one publish was taken they stay held, since the server keeps
 * them across sign-ins whatever a later top-up meets. What the server
 * holds from an earlier run of the client is not known here: a publish
 * refused then counts as none.
 */
export class OwnKeysOnServer {
  #standing: "asked" | "held" | "refused" = "asked";

  /**
   * A bundle was taken (the empty one a publish starts with too): the
   * server holds the keys from now on.
   */
  held(): void {
    this.#standing = "held";
  }

  /** A publish was refused (not cut off by a dropped connection). */
  refused(): void {
    if (this.#standing !== "held") this.#standing = "refused";
  }

  /** Whether the user's own name counts as using end-to-end keys. */
  get usesKeys(): boolean {
    return this.#standing !== "refused";
  }
}
