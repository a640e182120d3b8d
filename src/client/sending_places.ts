// This module is browser compatible.

/**
 * How many files a sender has under way to one recipient at once: no more
 * than a receiver takes in from one sender (receiving_share.ts), so that a
 * friend who sends six files at once has none refused. The others wait at
 * the sender, in the order they were sent, until one of the earlier ones
 * to that recipient ends (taken, declined, failed, cancelled), and are
 * offered then. The receiver's share stays: it is the defence against a
 * sender that does not hold back.
 *
 * A place is counted by whom the offer names: a person, or a group as a
 * whole. The sender does not know a group's members without asking the
 * server, so a file to a group and 4 to one of its members can still pass
 * that member's share; that member alone refuses it, as before.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import { MAX_RECEIVING_PER_SENDER } from "./receiving_share.ts";

/** Files under way to one recipient at once, at most: what it takes in. */
export const MAX_SENDING_PER_RECIPIENT = MAX_RECEIVING_PER_SENDER;

/**
 * Files under way at once from one sender, whoever they go to: what the
 * server lets a sender have (its `maxTransfersPerUser`; an offer past it is
 * refused, `limit`). A `--json` bot's files go on while it reads on
 * (session.ts), so thousands of `file` lines to as many people started at
 * once, and all but 8 were refused.
 */
export const MAX_SENDING_AT_ONCE = 8;

/** Whom an offer names: a person or a group. */
export type PlaceTarget = { to: string } | { group: string };

/** The key a target's places are counted under (names as the server compares them). */
export function placeKey(target: PlaceTarget): string {
  return "to" in target
    ? `to:${nameKey(target.to)}`
    : `group:${nameKey(target.group)}`;
}

/** A part a user wrote, as it is: the terminal's lines mark none. */
const asItIs = (part: string) => part;

/**
 * What is said of a file that waits for its place, in the terminal and on
 * the page (the names as they are: the terminal makes them safe to show).
 * `mark`: how the file's name and its recipient's are marked as runs of
 * their own (the page's bidi_runs.ts `marked`); the terminal marks none.
 */
export function heldNotice(
  name: string,
  target: PlaceTarget,
  mark: (part: string) => string = asItIs,
): string {
  const to = "to" in target ? mark(target.to) : `group ${mark(target.group)}`;
  return `${
    mark(name)
  } waits: ${MAX_SENDING_PER_RECIPIENT} files to ${to} are under way already, the most at once; it is offered once one of them ends (/transfers lists it, /cancel stops it)`;
}

/**
 * What is said of a file sent while our connection is down (the page
 * reconnecting): it was never offered, so nothing refused it; it waits.
 * `mark` as heldNotice's.
 */
export function awayNotice(
  name: string,
  mark: (part: string) => string = asItIs,
): string {
  return `${
    mark(name)
  } waits for the connection: it is offered once reconnected (/transfers lists it, /cancel stops it)`;
}

/**
 * What is said at the terminal of a file that waits for one of the files
 * under way at once (`FilesAtOnce`) to end: MAX_SENDING_AT_ONCE are, the
 * most the server lets a sender have (the name as it is: the terminal
 * makes it safe to show).
 */
export function atOnceNotice(name: string): string {
  return `${name} waits: ${MAX_SENDING_AT_ONCE} files are under way already, the most at once; it is offered once one of them ends (/transfers lists it, /cancel stops it)`;
}

/** The key every file is counted under in `FilesAtOnce`: no name is empty. */
const ANYONE: PlaceTarget = { to: "" };

/**
 * At most `limit` files under way at once, whoever they go to; the others
 * wait for one of them to end, first come first served (a `--json` bot's,
 * MAX_SENDING_AT_ONCE).
 */
export class FilesAtOnce {
  readonly limit: number;
  readonly #places: SendingPlaces;

  constructor(limit = MAX_SENDING_AT_ONCE) {
    this.limit = limit;
    this.#places = new SendingPlaces(limit);
  }

  /** A place now, or null when `limit` are under way (or others wait). */
  tryTake(): SendingPlace | null {
    return this.#places.tryTake(ANYONE);
  }

  /** As SendingPlaces `wait`, for any recipient. */
  wait(cancelled: Promise<unknown>): Promise<SendingPlace | "cancelled"> {
    return this.#places.wait(ANYONE, cancelled);
  }

  /** Places taken now (for tests). */
  get taken(): number {
    return this.#places.taken(ANYONE);
  }

  /** Files waiting for a place now (for tests). */
  get waiting(): number {
    return this.#places.waiting;
  }
}

/** A place taken: `release` lets the next file to that recipient go. */
export interface SendingPlace {
  /** Lets the place go (again: no effect). */
  release: () => void;
}

interface Waiter {
  take: (place: SendingPlace) => void;
}

/**
 * The places of one sender's files under way, per recipient, and the files
 * waiting for one, first come first served per recipient.
 */
export class SendingPlaces {
  readonly #limit: number;
  /** Places taken, by key. */
  #taken = new Map<string, number>();
  /**
   * Waiting, by key, each in the order they asked (a Set keeps it, and
   * lets a cancelled one go at once). Before, one list for all: every
   * release scanned it, and everyone before each waiter, so thousands of
   * /file lines held cost a quadratic time each time a file ended.
   */
  #waiting = new Map<string, Set<Waiter>>();
  #waitingCount = 0;

  constructor(limit = MAX_SENDING_PER_RECIPIENT) {
    this.#limit = limit;
  }

  /**
   * A place for a file to `target` now, or null when its recipient has
   * `limit` under way already (or earlier files wait for one): then
   * `wait`.
   */
  tryTake(target: PlaceTarget): SendingPlace | null {
    const key = placeKey(target);
    if (this.#waiting.has(key)) return null;
    if ((this.#taken.get(key) ?? 0) >= this.#limit) return null;
    return this.#take(key);
  }

  /**
   * Resolves with a place for a file to `target` once one is free and the
   * files to that recipient waiting before it have theirs; with "cancelled"
   * once `cancelled` resolves first (it waits no more).
   */
  async wait(
    target: PlaceTarget,
    cancelled: Promise<unknown>,
  ): Promise<SendingPlace | "cancelled"> {
    const now = this.tryTake(target);
    if (now !== null) return now;
    const key = placeKey(target);
    const given = Promise.withResolvers<SendingPlace>();
    const waiter: Waiter = { take: given.resolve };
    const line = this.#waiting.get(key) ?? new Set<Waiter>();
    this.#waiting.set(key, line);
    line.add(waiter);
    this.#waitingCount++;
    // Set as soon as `cancelled` resolves: a place given in the same turn
    // can still win the race below, and a file stopped (/cancel said so)
    // must not be offered with it.
    let stopped = false;
    const outcome = await Promise.race([
      given.promise,
      cancelled.then(() => {
        stopped = true;
        return "cancelled" as const;
      }),
    ]);
    if (outcome !== "cancelled" && !stopped) return outcome;
    if (line.delete(waiter)) {
      this.#waitingCount--;
      if (line.size === 0 && this.#waiting.get(key) === line) {
        this.#waiting.delete(key);
      }
      // Those behind it may go now.
      this.#handOut(key);
      return "cancelled";
    }
    // Given a place as it was cancelled: let it go to the next.
    (await given.promise).release();
    return "cancelled";
  }

  /** Files waiting for a place now (for tests and listings). */
  get waiting(): number {
    return this.#waitingCount;
  }

  /** Places taken for files to `target` now (for tests). */
  taken(target: PlaceTarget): number {
    return this.#taken.get(placeKey(target)) ?? 0;
  }

  #take(key: string): SendingPlace {
    this.#taken.set(key, (this.#taken.get(key) ?? 0) + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const left = (this.#taken.get(key) ?? 1) - 1;
        if (left > 0) this.#taken.set(key, left);
        else this.#taken.delete(key);
        this.#handOut(key);
      },
    };
  }

  /** Gives the free places of `key` to the first waiting for them. */
  #handOut(key: string): void {
    const line = this.#waiting.get(key);
    if (line === undefined) return;
    for (const waiter of line) {
      if ((this.#taken.get(key) ?? 0) >= this.#limit) return;
      line.delete(waiter);
      this.#waitingCount--;
      if (line.size === 0) this.#waiting.delete(key);
      waiter.take(this.#take(key));
    }
  }
}
