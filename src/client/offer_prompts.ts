/**
 * File offers waiting for the user's answer, asked one at a time: the first
 * offer's question is shown; a typed `y`, `n` or `a` answers it and the next
 * question is shown. Each offer has its own deadline from when it arrived;
 * when it passes unanswered, the offer is declined and the screen says so.
 * Any other line typed meanwhile is not an answer and goes to the chat.
 */

import type { FileOfferNotice } from "../protocol/messages.ts";
import {
  answerTimeoutMs,
  describeOffer,
  type OfferAnswer,
  offerQuestion,
  parseAnswer,
} from "./consent.ts";

/**
 * How a question ended: answered, timed out, taken back (cancelled), or
 * never asked because too many were waiting.
 */
export type PromptOutcome = OfferAnswer | "timeout" | "withdrawn" | "busy";

/**
 * Questions that may wait at once. The server lets each sender have 8
 * transfers; past this many waiting, a flood of offers is declined rather
 * than queued without end.
 */
export const MAX_WAITING = 32;

interface Pending {
  offer: FileOfferNotice;
  resolve: (outcome: PromptOutcome) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class OfferPrompts {
  #print: (line: string) => void;
  #queue: Pending[] = [];

  constructor(print: (line: string) => void) {
    this.#print = print;
  }

  /** Whether a question is waiting for an answer. */
  get waiting(): boolean {
    return this.#queue.length > 0;
  }

  /** Queues the question for `offer`; resolves with how it ended. */
  ask(offer: FileOfferNotice): Promise<PromptOutcome> {
    if (this.#queue.length >= MAX_WAITING) {
      this.#print(
        `Declined ${
          describeOffer(offer)
        }: ${MAX_WAITING} offers are already waiting for an answer`,
      );
      return Promise.resolve("busy");
    }
    return new Promise((resolve) => {
      const timeout = answerTimeoutMs(offer);
      const pending: Pending = {
        offer,
        resolve,
        timer: setTimeout(() => {
          const within = timeout >= 1000
            ? `${Math.round(timeout / 1000)} s`
            : `${timeout} ms`;
          this.#print(
            `No answer within ${within}: declined ${describeOffer(offer)}.`,
          );
          this.#settle(pending, "timeout");
        }, timeout),
      };
      this.#queue.push(pending);
      if (this.#queue.length === 1) this.#show();
    });
  }

  /**
   * Takes `line` as the answer to the question shown, if it is one (`y`,
   * `yes`, `n`, `no`, `a`, `always`, any case). Returns whether it was.
   */
  answer(line: string): boolean {
    const current = this.#queue[0];
    if (current === undefined) return false;
    const answer = parseAnswer(line, current.offer);
    if (answer === null) return false;
    if (answer === "no") {
      this.#print(`Declined ${describeOffer(current.offer)}.`);
    }
    this.#settle(current, answer);
    return true;
  }

  /** Drops the question for a transfer that ended meanwhile. */
  withdraw(xfer: number): void {
    const pending = this.#queue.find((p) => p.offer.xfer === xfer);
    if (pending !== undefined) this.#settle(pending, "withdrawn");
  }

  /** Withdraws every question (the session is over). */
  close(): void {
    for (const pending of [...this.#queue]) this.#settle(pending, "withdrawn");
  }

  #settle(pending: Pending, outcome: PromptOutcome): void {
    const index = this.#queue.indexOf(pending);
    if (index === -1) return;
    clearTimeout(pending.timer);
    this.#queue.splice(index, 1);
    pending.resolve(outcome);
    if (index === 0 && this.#queue.length > 0) this.#show();
  }

  #show(): void {
    const current = this.#queue[0];
    if (current !== undefined) this.#print(offerQuestion(current.offer));
  }
}
