// This module is browser compatible.

/**
 * A cluster node's files from senders on other nodes (cluster_events.ts,
 * file_bridge.ts) cross the bus, and what those senders said before an
 * offer crosses the log: an offer (or a sender's cancel) waits here for the
 * log, and what follows of its transfer waits behind it (docs/SCALING.md,
 * "Bus events").
 */

import { LogWaits } from "./log_waits.ts";
import { messageOf } from "../transport/secure_channel.ts";

/** The most file events waiting for the log; past it they are passed on at once. */
export const MAX_WAITING_FILE_EVENTS = 4096;

/** The most chunk bytes waiting behind them; past it, the same. */
export const MAX_WAITING_FILE_BYTES = 16 * 1024 * 1024;

/**
 * File events from senders' nodes, passed on per transfer in the order they
 * came, each once this node has applied the log as far as the sender's node
 * had when it sent it (`after`): after what the sender said before
 * (docs/PROTOCOL.md 5.9, "Several nodes"). Transfers do not wait for one
 * another, and an event with nothing waiting before it in its transfer and
 * the log that far (every chunk of a transfer under way) is passed on at
 * once. Each at most `waitMs` after it came, however many wait before it.
 */
export class FilesInOrder extends LogWaits {
  /**
   * Per transfer with events waiting: the last one's turn, how many, and
   * whether a cancel went past them (they are dropped in their turn).
   */
  readonly #chains = new Map<
    string,
    { last: Promise<void>; count: number; cancelled: boolean }
  >();
  #waiting = 0;
  #waitingBytes = 0;

  /** How many events wait (for tests and the bound). */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Passes on `passOn` in its turn among transfer `key`'s events, once the
   * log is at `after`; `bytes` is what it holds (a chunk's body).
   * `cancels`: it is the sender's cancel, which ends the transfer.
   *
   * Chunks and a transfer's end carry no position of their own: they wait
   * only behind their transfer's events. None can come before its offer
   * was passed on: a sender sends them once the offer is accepted, which
   * its recipient does once shown it.
   */
  add(
    key: string,
    after: number,
    bytes: number,
    passOn: () => void,
    cancels = false,
  ): void {
    const chain = this.#chains.get(key);
    if (chain === undefined && this.reached(after)) {
      return this.#carryOut(passOn);
    }
    // A node that names a position never reached must not make events
    // pile up here: past the bounds they lose their order (a chunk before
    // its offer is dropped, and the transfer stops, to be resumed), not
    // their effect. A cancel that goes past its transfer's offer still
    // waiting ends it there: the offer is dropped in its turn, never
    // shown (it would be asked about, and accepted, after it was taken
    // back). Held by nothing here, a transfer's offer was passed on.
    if (
      this.#waiting >= MAX_WAITING_FILE_EVENTS ||
      this.#waitingBytes + bytes > MAX_WAITING_FILE_BYTES
    ) {
      if (cancels && chain !== undefined) chain.cancelled = true;
      return this.#carryOut(passOn);
    }
    this.#waiting++;
    this.#waitingBytes += bytes;
    const turn = this.turn(
      chain?.last ?? Promise.resolve(),
      after,
      "cluster: a file from another node is passed on before the log it follows",
    ).then(() => {
      this.#waiting--;
      this.#waitingBytes -= bytes;
      const now = this.#chains.get(key);
      if (now !== undefined && --now.count === 0) this.#chains.delete(key);
      if (now?.cancelled !== true) this.#carryOut(passOn);
    });
    if (chain === undefined) {
      this.#chains.set(key, { last: turn, count: 1, cancelled: false });
    } else {
      chain.last = turn;
      chain.count++;
    }
  }

  #carryOut(passOn: () => void): void {
    try {
      passOn();
    } catch (error) {
      this.say(
        `cluster: cannot pass on a file from another node: ${messageOf(error)}`,
      );
    }
  }
}
