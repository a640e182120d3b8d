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
 * off (`floodStrikes` refusals in a row, or acks held past their own
 * bucket).
 */
export type Verdict = "pass" | "hold" | "slow_down" | "flood";

/**
 * Messages that are flow-controlled by the file window, not the rate limit:
 * only when they move a transfer their sender takes part in (the caller
 * checks: paced_by_others.ts `movesTransfer`); others are counted in a
 * bucket of their own (below).
 */
const FILE_DATA: ReadonlySet<string> = new Set([
  "file_chunk",
  "file_ack",
  "file_end",
  "file_done",
]);

/**
 * File data for no transfer of the connection's, or that moves none (an
 * acknowledgement of no more than before, an end after the end) or moves it
 * by a few bytes only (paced_by_others.ts MIN_PACED_CHUNK_BYTES), a second
 * and at once: a transfer cancelled with its window in flight leaves at most
 * about 70 (4 MiB of 128 KiB chunks, and their acks).
 */
const STRAY_FILE_DATA_PER_SECOND = 64;
const STRAY_FILE_DATA_BURST = 256;

/**
 * `ack`s over the rate, a second and at once. Held rather than refused
 * (held_acks.ts), they earn no strike; without a bucket of their own they
 * were the one message that met no limit: a frame of ten thousand cost a
 * parse and a merge each, and their sender was never cut off. A client
 * acknowledges a few times a second (docs/PROTOCOL.md 5.9).
 */
export const HELD_ACKS_PER_SECOND = 64;
export const HELD_ACKS_BURST = 256;

/**
 * Cursors of one `ack` that cost one token: applying a cursor is store work
 * (with messages waiting), so an `ack` of 256 cursors held the server far
 * longer than a `ping` for the same one token, and a flood of them at the
 * rate slowed everyone's replies. A client acknowledges what it was shown a few times a
 * second, a few conversations at a time: its acks stay at one token.
 */
export const ACK_CURSORS_PER_TOKEN = 16;

/**
 * The tokens an `ack` applying `cursors` cursors takes (with those held
 * from earlier acks, which go with it).
 */
export function ackWeight(cursors: number): number {
  return 1 + Math.floor(cursors / ACK_CURSORS_PER_TOKEN);
}

export type RateLimits = Pick<
  ConnectionLimits,
  | "messagesPerSecond"
  | "messageBurst"
  | "historyPerSecond"
  | "historyBurst"
  | "historyFreePerConnection"
  | "floodStrikes"
>;

export class MessageRate {
  readonly #own: TokenBucket;
  readonly #history: TokenBucket;
  readonly #stray: TokenBucket;
  readonly #heldAcks: TokenBucket;
  readonly #shared: KeyedTokenBuckets;
  readonly #sharedHistory: KeyedTokenBuckets | null;
  readonly #group: string;
  readonly #floodStrikes: number;
  #strikes = 0;
  /**
   * The connection's first `history` requests (historyFreePerConnection,
   * 1) are not counted against its address's: a client asks once at each
   * sign-in, unasked (where the room stands, or what was said while it was
   * away: client/missed_public.ts), and a class of 40 behind one address
   * coming back at once waited 12-15 s for 3 a second, its live lines held
   * meanwhile. Its own bucket still counts them; an address gets one more
   * per sign-in, which its sign-in rates bound.
   */
  #freeHistory: number;

  /**
   * A connection from address group `group`, which shares `shared` (and
   * `sharedHistory` for `history` requests).
   */
  constructor(
    limits: RateLimits,
    shared: KeyedTokenBuckets,
    group: string,
    now: number,
    sharedHistory: KeyedTokenBuckets | null = null,
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
    this.#stray = new TokenBucket(
      STRAY_FILE_DATA_PER_SECOND,
      STRAY_FILE_DATA_BURST,
      now,
    );
    this.#heldAcks = new TokenBucket(
      HELD_ACKS_PER_SECOND,
      HELD_ACKS_BURST,
      now,
    );
    this.#shared = shared;
    this.#sharedHistory = sharedHistory;
    this.#group = group;
    this.#floodStrikes = limits.floodStrikes;
    this.#freeHistory = limits.historyFreePerConnection;
  }

  /**
   * `type` null: a message that could not be parsed, counted as any other
   * (each costs the server a parse and a reply). `paced`: paced by others,
   * not its sender (serve.ts `pacedByOthers`: file data for a transfer the
   * connection takes part in, which the file window paces, or its answer to
   * someone's offer): it passes.
   */
  judge(
    type: ClientMessage["t"] | null,
    now: number,
    paced = false,
    weight = 1,
  ): Verdict {
    if (paced) {
      this.#strikes = 0;
      return "pass";
    }
    if (type !== null && FILE_DATA.has(type)) {
      // File data naming no transfer of this connection's, or moving none:
      // some are late (a window's worth after a cancel), and are dropped by
      // the router;
      // more is a flood of messages that cost a parse each and pass no
      // rate otherwise.
      return this.#stray.take(now) ? "pass" : "flood";
    }
    // The address's shared bucket is taken from only when the connection's
    // own has a token: a connection held to its own rate does not use up
    // its neighbours'.
    const over = !(this.#own.peek(now) &&
      this.#shared.take(this.#group, now, weight) &&
      this.#own.take(now, weight)) ||
      (type === "history" &&
        !(this.#history.peek(now) &&
          (this.#takeFirstHistory() ||
            (this.#sharedHistory?.take(this.#group, now) ?? true)) &&
          this.#history.take(now)));
    if (!over) {
      this.#strikes = 0;
      return "pass";
    }
    if (type === "ack") return this.#heldAcks.take(now) ? "hold" : "flood";
    return ++this.#strikes >= this.#floodStrikes ? "flood" : "slow_down";
  }

  /**
   * Whether the acks held (`weight`: ackWeight of their cursors) may be
   * applied now, on their own: they take their tokens as an `ack` let
   * through would, and earn no strike nor a token of the held acks' bucket.
   */
  passHeld(now: number, weight: number): boolean {
    return this.#own.peek(now) &&
      this.#shared.take(this.#group, now, weight) &&
      this.#own.take(now, weight);
  }

  /** Whether this is one of the connection's first `history` requests (#freeHistory). */
  #takeFirstHistory(): boolean {
    if (this.#freeHistory <= 0) return false;
    this.#freeHistory--;
    return true;
  }

  /** Milliseconds until the connection's own bucket has a token again. */
  msUntilToken(now: number): number {
    return this.#own.msUntilToken(now);
  }
}
