// This module is browser compatible.

/**
 * What files_in_order.ts and answers_in_order.ts share: events from other
 * cluster nodes that wait, each in its turn, for this node to apply the log
 * as far as the sender's node had when it sent them (docs/SCALING.md, "Bus
 * events").
 */

import type { ClusterLogPort } from "./cluster/port.ts";
import { messageOf } from "../transport/secure_channel.ts";

export class LogWaits {
  readonly #log: Pick<ClusterLogPort, "position" | "applied">;
  readonly #waitMs: number;
  protected readonly say: (line: string) => void;

  constructor(
    log: Pick<ClusterLogPort, "position" | "applied">,
    waitMs: number,
    say: (line: string) => void,
  ) {
    this.#log = log;
    this.#waitMs = waitMs;
    this.say = say;
  }

  /** Whether the log is at `after` already. */
  protected reached(after: number): boolean {
    return after <= this.#log.position;
  }

  /**
   * Resolves once `before` has and the log is at `after`, or `waitMs` from
   * now (said, as `late`: the reason) if the log is not.
   */
  protected turn(
    before: Promise<void>,
    after: number,
    late: string,
  ): Promise<void> {
    // The wait counts from now, not from when the ones before it are done:
    // one that the log never reaches (a stalled log, or a position far
    // ahead) holds the next ones no longer than itself.
    const deadline = performance.now() + this.#waitMs;
    return before
      .then(() =>
        this.#log.applied(after, Math.max(0, deadline - performance.now()))
      )
      .catch((error) => this.say(`${late}: ${messageOf(error)}`));
  }
}
