// This module is browser compatible.

/**
 * Sign-ins that are someone coming back rather than someone churning: an
 * account already known (its key proven) signing in again after its
 * connection dropped, the server restarted or the Wi-Fi came back. A class
 * behind one address all comes back at once then, past the sign-in burst
 * (30 by default: the 40th of a class waited a minute at 10 a minute).
 *
 * Each name of an address may come back once per {@link COMEBACK_WINDOW_MS}
 * without spending the address's sign-ins, and the address as many at once
 * as it may hold connections (`maxConnectionsPerAddress`, refilled over the
 * same window): its whole room coming back at once passes, while one name
 * signed in and out in a loop pays the sign-in rate from its second sign-in
 * on, and many names in turn at most one window's worth more.
 *
 * @module
 */

import { KeyedTokenBuckets } from "./rate_limit.ts";

/** A name comes back free once in this long (a restart, a dropped Wi-Fi). */
export const COMEBACK_WINDOW_MS = 10 * 60_000;

export class Comebacks {
  readonly #byName: KeyedTokenBuckets;
  readonly #byAddress: KeyedTokenBuckets;

  /** `perAddress`: how many names of one address may come back at once. */
  constructor(perAddress: number) {
    const window = COMEBACK_WINDOW_MS / 1000;
    this.#byName = new KeyedTokenBuckets(1 / window, 1);
    this.#byAddress = new KeyedTokenBuckets(perAddress / window, perAddress);
  }

  /** Whether `name` (a name key) of address `group` may come back free now. */
  may(group: string, name: string, now: number): boolean {
    return this.#byAddress.rate > 0 &&
      this.#byName.peek(`${group}\n${name}`, now) &&
      this.#byAddress.peek(group, now);
  }

  /** `name` of `group` came back ({@link may} said so). */
  take(group: string, name: string, now: number): void {
    this.#byName.take(`${group}\n${name}`, now);
    this.#byAddress.take(group, now);
  }
}
