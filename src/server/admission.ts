// This module is browser compatible.

/**
 * Who may connect: each new TCP connection costs its address (an address
 * group, see address_group.ts) a handshake token, taken before any HTTP
 * parsing or RSA work; the connection counts are checked when it asks for
 * a WebSocket. Decides only; the edge acts.
 */

import type { ConnectionLimits } from "./config.ts";
import { KeyedTokenBuckets } from "./rate_limit.ts";

/** What happens to a new TCP connection. */
export type Admission =
  | { kind: "in" }
  /** Answered with a 503 saying `why` once its request has arrived. */
  | { kind: "refuse"; why: string }
  /** Closed at once, unanswered: what costs least in a flood. */
  | { kind: "drop" };

/** Open sockets, counted from accept until really gone. */
export interface SocketCounts {
  readonly socketCount: number;
  socketsFrom(group: string): number;
}

export const TOO_MANY_NEW =
  "too many new connections from your address; try again in a few seconds";

export const TOO_MANY_UNFINISHED =
  "too many connections are still starting; try again in a few seconds";

type AdmissionLimits = Pick<
  ConnectionLimits,
  | "maxConnections"
  | "maxConnectionsPerAddress"
  | "handshakesPerSecond"
  | "handshakeBurst"
>;

export class AdmissionPolicy {
  readonly #limits: AdmissionLimits;
  readonly #handshakes: KeyedTokenBuckets;
  // An address past its handshake rate is told so at that rate too; past
  // that as well, its connections are dropped.
  readonly #answers: KeyedTokenBuckets;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
    this.#handshakes = new KeyedTokenBuckets(
      limits.handshakesPerSecond,
      limits.handshakeBurst,
    );
    this.#answers = new KeyedTokenBuckets(
      limits.handshakesPerSecond,
      limits.handshakeBurst,
    );
  }

  /**
   * A TCP connection from `group` has just been accepted; `unfinished`: its
   * group or the server is at its cap of connections still in the handshake.
   */
  accept(group: string, now: number, unfinished = false): Admission {
    if (!unfinished && this.#handshakes.take(group, now)) return { kind: "in" };
    if (!this.#answers.take(group, now)) return { kind: "drop" };
    return {
      kind: "refuse",
      why: unfinished ? TOO_MANY_UNFINISHED : TOO_MANY_NEW,
    };
  }

  /**
   * `group` took `tokens` handshakes on another node of a cluster: they
   * count against its rate here too (address_shares.ts).
   */
  charge(group: string, tokens: number, now: number): void {
    this.#handshakes.charge(group, tokens, now);
  }

  /**
   * A connection let in asks for a WebSocket: null lets it in, else why not.
   * `counts` include the asking socket.
   */
  admit(counts: SocketCounts, group: string): string | null {
    if (counts.socketCount > this.#limits.maxConnections) {
      return "the server is full";
    }
    if (counts.socketsFrom(group) > this.#limits.maxConnectionsPerAddress) {
      return "too many connections from your address";
    }
    return null;
  }
}
