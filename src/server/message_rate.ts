// This module is browser compatible.

/**
 * How fast one connection may send, message by message: its own token
 * bucket, a share of its address's (so that opening more connections does
 * not multiply the rate), a small bucket for `history` (each costs up to
 * 256 KiB read and queued), and strikes: a client that keeps sending past
 * its refusals is cut off. File data is paced by the file window instead.
 */

import type { ClientMessage } from "../protocol/messages.ts";
import type { ConnectionLimits } from "./config.ts";
import { type KeyedTokenBuckets, TokenBucket } from "./rate_limit.ts";

/**
 * What to do with a message: route it; hold it (an `ack` over the rate,
 * which has no reply to refuse, and which dropped would show what it covers
 * again: held_acks.ts); refuse it with `slow_down`; or cut the connection
 * off (`floodStrikes` refusals in a row).
 */
export type Verdict = "pass" | "hold" | "slow_down" | "flood";

/** Messages that are flow-controlled by the file window, not the rate limit. */
const FILE_DATA: ReadonlySet<string> = new Set([
  "file_chunk",
  "file_ack",
  "file_end",
  "file_done",
]);

export type RateLimits = Pick<
  ConnectionLimits,
  | "messagesPerSecond"
  | "messageBurst"
  | "historyPerSecond"
  | "historyBurst"
  | "floodStrikes"
>;

export class MessageRate {
  readonly #own: TokenBucket;
  readonly #history: TokenBucket;
  readonly #shared: KeyedTokenBuckets;
  readonly #group: string;
  readonly #floodStrikes: number;
  #strikes = 0;

  /** A connection from address group `group`, which shares `shared`. */
  constructor(
    limits: RateLimits,
    shared: KeyedTokenBuckets,
    group: string,
    now: number,
  ) {
    this.#own = new TokenBucket(
      limits.messagesPerSecond,
      limits.messageBurst,
      now,
    );
    this.#history = new TokenBucket(
      limits.historyPerSecond,
      limits.historyBurst,
      now,
    );
    this.#shared = shared;
    this.#group = group;
    this.#floodStrikes = limits.floodStrikes;
  }

  judge(type: ClientMessage["t"], now: number): Verdict {
    // The address's shared bucket is taken from only when the connection's
    // own has a token: a connection held to its own rate does not use up
    // its neighbours'.
    const over = (!FILE_DATA.has(type) &&
      !(this.#own.peek(now) && this.#shared.take(this.#group, now) &&
        this.#own.take(now))) ||
      (type === "history" && !this.#history.take(now));
    if (!over) {
      this.#strikes = 0;
      return "pass";
    }
    if (type === "ack") return "hold";
    return ++this.#strikes >= this.#floodStrikes ? "flood" : "slow_down";
  }
}
