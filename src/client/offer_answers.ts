// This module is browser compatible.

/**
 * File offers waiting for a program's answer in `chat connect --json`: each
 * offer is an event, answered by `{"cmd":"accept","xfer":N}` or `decline`,
 * in any order, before its deadline (then it counts as declined). Unlike a
 * person (offer_prompts.ts), a program is not asked one question at a time.
 *
 * @module
 */

import type { FileOfferNotice } from "../protocol/messages.ts";
import { answerTimeoutMs } from "./consent.ts";

export type OfferOutcome = "accept" | "decline" | "timeout" | "withdrawn";

/** Offers that may wait at once; past this a flood is declined. */
export const MAX_WAITING_OFFERS = 32;

export class OfferAnswers {
  #waiting = new Map<
    number,
    {
      resolve: (outcome: OfferOutcome) => void;
      timer: ReturnType<typeof setTimeout>;
    }
  >();

  /** Waits for the answer to `offer` (or its deadline). */
  wait(offer: FileOfferNotice): Promise<OfferOutcome> {
    if (
      this.#waiting.has(offer.xfer) ||
      this.#waiting.size >= MAX_WAITING_OFFERS
    ) return Promise.resolve("decline");
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => this.#settle(offer.xfer, "timeout"),
        answerTimeoutMs(offer),
      );
      this.#waiting.set(offer.xfer, { resolve, timer });
    });
  }

  /** Answers offer `xfer`; false when no such offer waits. */
  answer(xfer: number, accept: boolean): boolean {
    return this.#settle(xfer, accept ? "accept" : "decline");
  }

  /** The transfer ended before an answer: nothing to answer any more. */
  withdraw(xfer: number): void {
    this.#settle(xfer, "withdrawn");
  }

  close(): void {
    for (const xfer of [...this.#waiting.keys()]) {
      this.#settle(xfer, "withdrawn");
    }
  }

  #settle(xfer: number, outcome: OfferOutcome): boolean {
    const waiting = this.#waiting.get(xfer);
    if (waiting === undefined) return false;
    this.#waiting.delete(xfer);
    clearTimeout(waiting.timer);
    waiting.resolve(outcome);
    return true;
  }
}
