// This module is browser compatible.

/**
 * A cluster node's answers from recipients on other nodes about the files
 * it runs (cluster_events.ts) cross the bus, and what those recipients said
 * before crosses the log: an answer waits here for the log
 * (docs/SCALING.md, "Bus events").
 */

import { LogWaits } from "./log_waits.ts";
import { messageOf } from "../transport/secure_channel.ts";

/** The most answers waiting for the log; past it they are carried out at once. */
export const MAX_WAITING_ANSWERS = 4096;

/**
 * Answers from recipients on other nodes, carried out in the order they came,
 * each once this node has applied the log as far as the recipient's node had
 * when it sent it: after what the recipient said before (docs/PROTOCOL.md
 * 5.9, "Several nodes"). At once when none waits and the log is that far;
 * each at most `waitMs` after it came, however many wait before it.
 */
export class AnswersInOrder extends LogWaits {
  #waiting = 0;
  #last: Promise<void> = Promise.resolve();

  /** Carries out `carryOut` in its turn, once the log is at `after`. */
  add(after: number, carryOut: () => void): void {
    if (this.#waiting === 0 && this.reached(after)) return carryOut();
    // A node that names a position never reached must not make the
    // answers pile up here: past the bound they lose their order, not
    // their effect.
    if (this.#waiting >= MAX_WAITING_ANSWERS) return carryOut();
    this.#waiting++;
    this.#last = this.turn(
      this.#last,
      after,
      "cluster: a file answer is carried out before the log it follows",
    ).then(() => {
      this.#waiting--;
      try {
        carryOut();
      } catch (error) {
        this.say(
          `cluster: cannot carry out a file answer: ${messageOf(error)}`,
        );
      }
    });
  }
}
