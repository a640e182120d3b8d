// This module is browser compatible.

/**
 * Who took a one-time prekey of whom since its owner last published
 * (docs/PROTOCOL.md 11.2). Each fetch of a bundle used to take one, so one
 * signed-in classmate asking a hundred times used up all of someone's keys
 * in seconds, and every first message to them went without DH4 until they
 * signed in again. A requester (by the identity key it proved) now takes at
 * most one of each owner's keys per publish; asking again still gets the
 * bundle, without one, which X3DH allows. Taking them all then needs as many
 * identity keys, and so names, which the server hands out slowly (5.8).
 */

/**
 * The most (owner, requester) pairs remembered; past it the owners heard
 * of longest ago are forgotten (their requesters may take one again).
 */
export const MAX_REMEMBERED_TAKERS = 65_536;

export class OneTimeTakers {
  /** Requester fingerprints by owner name key, owners in order last used. */
  #byOwner = new Map<string, Set<string>>();
  #count = 0;

  /** Whether `requester` took one of `owner`'s one-time keys already. */
  took(owner: string, requester: string): boolean {
    return this.#byOwner.get(owner)?.has(requester) ?? false;
  }

  /** Notes that `requester` was handed one of `owner`'s one-time keys. */
  add(owner: string, requester: string): void {
    const takers = this.#byOwner.get(owner) ?? new Set<string>();
    this.#byOwner.delete(owner);
    this.#byOwner.set(owner, takers);
    if (takers.has(requester)) return;
    takers.add(requester);
    this.#count++;
    while (this.#count > MAX_REMEMBERED_TAKERS) {
      const oldest = this.#byOwner.keys().next().value;
      if (oldest === undefined) break;
      this.forget(oldest);
    }
  }

  /** `owner` published again: anyone may take one of their keys again. */
  forget(owner: string): void {
    const takers = this.#byOwner.get(owner);
    if (takers === undefined) return;
    this.#count -= takers.size;
    this.#byOwner.delete(owner);
  }
}
