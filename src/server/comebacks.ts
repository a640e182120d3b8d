// This module is browser compatible.

/**
 * Sign-ins that are someone coming back rather than someone churning: an
 * account whose session from this address (its key proven) ended a moment
 * ago, after it had been signed in a while, signing in again with the same
 * key: its connection dropped, the server restarted, the Wi-Fi came back. A
 * class behind one address all comes back at once then, past the sign-in
 * burst (30 by default: the 40th of a class waited a minute at 10 a
 * minute), and again at the next drop, however often the Wi-Fi drops.
 *
 * A comeback is owed by a session that lasted `comebackSettledMs` (config.ts,
 * 30 s) and ended within `comebackWithinMs` (2 minutes); it is used once
 * (the session it opens owes the next), and only when the address's
 * ordinary sign-ins cannot pay. A session that follows an owed end owes one
 * too however short it was, up to MAX_QUICK_COMEBACKS in a row: Wi-Fi that
 * drops again 12 s after a drop left a class of 30 behind one address to
 * the sign-ins (10 a minute), its last laptop refused for minutes. So one
 * name signed in and out in a loop comes back free at most 4 times per 30 s
 * (8 lines on everyone's screen),
 * and the names of one address together at most as many at once as it may
 * hold connections (`maxConnectionsPerAddress`, 64), and that many a minute:
 * an address's sign-ins past its bursts (30 ordinary, 64 comebacks) are at
 * most 10 + 64 a minute, 148 joined and left lines, against 26 lines a
 * second unlimited. A class of 40 whose Wi-Fi drops every 30 s needs 35
 * comebacks per drop (the sign-in rate pays 5): the 64 a minute keep up,
 * the burst covering what is short for ten minutes of such drops. Two drops
 * of a class of 30 within seconds take 60 of the 64 at once; a third waits
 * for the minute's rate.
 *
 * @module
 */

import { lastingGroup } from "./address_group.ts";
import { KeyedTokenBuckets } from "./rate_limit.ts";

/** config.ts `comebackSettledMs` and `comebackWithinMs`. */
export interface ComebackTimes {
  /** How long a session must have lasted for its end to owe a comeback. */
  settledMs: number;
  /** How soon after that end the comeback must come. */
  withinMs: number;
}

/**
 * Comebacks in a row that a session shorter than `settledMs` owes: a flaky
 * Wi-Fi's drops, a few seconds apart, each owed (after a settled session).
 */
export const MAX_QUICK_COMEBACKS = 3;

/**
 * Sessions signed in (by address group and name key) remembered at most:
 * past it, the oldest are forgotten (an end of theirs owes a comeback only
 * if they had settled). One per signed-in name.
 */
const MAX_OPEN = 65_536;

/** A session's end that owes a comeback. */
interface Ended {
  /** The key it had proven (its fingerprint). */
  fingerprint: string;
  at: number;
  /** Unsettled sessions in a row it ended (0: it had settled). */
  quick: number;
}

/** A session signed in: since when, after how many unsettled in a row. */
interface Open {
  since: number;
  quick: number;
}

export class Comebacks {
  readonly #times: ComebackTimes;
  readonly #byAddress: KeyedTokenBuckets;
  /**
   * By address group and name key; in the order they ended (re-inserted
   * when a name ends again), so the stale ones are dropped from the front.
   */
  readonly #ended = new Map<string, Ended>();
  /** Sessions signed in, by the same key, in the order they began. */
  readonly #open = new Map<string, Open>();

  /** When this server started: ends before it are the store's to tell. */
  readonly #startedAt: number;

  /**
   * `perAddress`: how many names of one address may come back at once, and
   * a minute; `now`: the server starts.
   */
  constructor(perAddress: number, times: ComebackTimes, now: number) {
    this.#times = times;
    this.#startedAt = now;
    this.#byAddress = new KeyedTokenBuckets(perAddress / 60, perAddress);
  }

  /**
   * A session of `name` (a name key) of address `group` that proved key
   * `fingerprint` ended at `now`, signed in since `since`: it owes a
   * comeback if it lasted long enough.
   */
  ended(
    group: string,
    name: string,
    fingerprint: string,
    since: number,
    now: number,
  ): void {
    this.#prune(now);
    const key = endKey(group, name);
    this.#ended.delete(key);
    const open = this.#open.get(key);
    this.#open.delete(key);
    const quick = this.#owes(open?.quick ?? MAX_QUICK_COMEBACKS, since, now);
    if (quick !== null) this.#ended.set(key, { fingerprint, at: now, quick });
  }

  /**
   * What the end at `now` of a session begun at `since`, after `quick`
   * unsettled ones in a row, owes: a comeback after that many unsettled
   * ones (0 if it settled), or null: none.
   */
  #owes(quick: number, since: number, now: number): number | null {
    if (now - since >= this.#times.settledMs) return 0;
    return quick < MAX_QUICK_COMEBACKS ? quick + 1 : null;
  }

  /**
   * Whether `name` of `group`, proving `fingerprint`, may come back free
   * now. `before.live`: its session from `group` is still signed in (a
   * reconnection the server has not noticed the end of yet), since when and
   * with which key: this sign-in ends it, as a drop would have.
   * `before.lastSeen`: when the store last saw the name, its key being the
   * one bound to it: a session that ended as this server stopped (a restart)
   * left no end here, only that.
   */
  may(
    group: string,
    name: string,
    fingerprint: string,
    now: number,
    before: {
      live?: { fingerprint: string | null; since: number };
      lastSeen?: number | null;
    } = {},
  ): boolean {
    if (this.#byAddress.rate <= 0 || !this.#byAddress.peek(group, now)) {
      return false;
    }
    const { live, lastSeen } = before;
    if (live !== undefined) {
      const quick = this.#open.get(endKey(group, name))?.quick ??
        MAX_QUICK_COMEBACKS;
      return live.fingerprint === fingerprint &&
        this.#owes(quick, live.since, now) !== null;
    }
    this.#prune(now);
    const ended = this.#ended.get(endKey(group, name));
    if (ended !== undefined) return ended.fingerprint === fingerprint;
    // Seen last before this server started, and not long before: it was
    // signed in when the server stopped (each end is a sighting). A name
    // signed in since was seen since, and owes its comeback here.
    const started = this.#startedAt;
    return lastSeen !== undefined && lastSeen !== null &&
      lastSeen <= started && started - lastSeen <= this.#times.withinMs &&
      now - started <= this.#times.withinMs;
  }

  /**
   * `name` of `group` signed in: `comeback` when {@link may} said so and it
   * paid nothing else. Either way the end it came back from owes no more:
   * the session it opens owes the next.
   */
  signedIn(group: string, name: string, now: number, comeback: boolean): void {
    const key = endKey(group, name);
    const ended = this.#ended.get(key);
    this.#ended.delete(key);
    // A session still open that this one takes over ends now.
    const taken = this.#open.get(key);
    this.#open.delete(key);
    const quick = ended?.quick ??
      (taken === undefined ? null : this.#owes(taken.quick, taken.since, now));
    // Paid or free, a session after an owed end keeps its place in the row.
    this.#open.set(key, { since: now, quick: quick ?? MAX_QUICK_COMEBACKS });
    if (this.#open.size > MAX_OPEN) {
      this.#open.delete(this.#open.keys().next().value!);
    }
    if (comeback) this.#byAddress.take(group, now);
  }

  /** Ends owed no more (too old): they are in the order they came. */
  #prune(now: number): void {
    for (const [key, { at }] of this.#ended) {
      if (now - at <= this.#times.withinMs) return;
      this.#ended.delete(key);
    }
  }
}

/**
 * Where an end is owed a comeback: `name` of `group`, an on-link IPv6 peer
 * with its /64 (lastingGroup), whose sign-ins it pays with. A laptop that
 * rejoins the LAN takes a new temporary address there (RFC 8981): counted
 * by its whole address, it was no comeback, and its class's Wi-Fi drop
 * left all of them to the /64's sign-ins (30, then 10 a minute). How many
 * come back at once stays per address.
 */
function endKey(group: string, name: string): string {
  return `${lastingGroup(group)}\n${name}`;
}
