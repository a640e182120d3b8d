/**
 * File offers waiting for the user's answer, asked one at a time: the first
 * offer's question is shown; a typed `y`, `n` or `always` answers it and the
 * next question is shown. Each offer has its own deadline from when it
 * arrived; when it passes unanswered, the offer is declined and the screen
 * says so. Any other line typed meanwhile is not an answer and goes to the
 * chat.
 *
 * An answer is tied to the question it was typed for: one that arrives
 * within {@linkcode ANSWER_GUARD_MS} of a question being shown (first shown,
 * shown again, or shown because the one before it ended) was most likely
 * typed before the user could read it (a chat reply `y`, or a `y` meant for
 * an offer withdrawn just then). It is neither taken nor sent as chat: the
 * screen says so and shows the question again. A withdrawn question says so.
 */

import type { FileOfferNotice } from "../protocol/messages.ts";
import {
  answerTimeoutMs,
  describeOffer,
  type OfferAnswer,
  offerQuestion,
  parseAnswer,
  waitingRow,
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

/** An answer must come at least this long after its question was shown. */
export const ANSWER_GUARD_MS = 1000;

export interface OfferPromptsOptions {
  /** The clock, in milliseconds (tests move it by hand). */
  now?: () => number;
  /**
   * Called with the row to keep above the prompt (consent.ts waitingRow)
   * each time the questions waiting change, and with null once none waits.
   */
  onWaiting?: (row: string | null) => void;
}

interface Pending {
  offer: FileOfferNotice;
  resolve: (outcome: PromptOutcome) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class OfferPrompts {
  #print: (line: string) => void;
  #now: () => number;
  #onWaiting: (row: string | null) => void;
  #queue: Pending[] = [];
  /** When the first question in the queue was last shown. */
  #shownAt = 0;
  /** The first question, not shown yet: it waits for a line said before it. */
  #unshown: Pending | null = null;
  #closing = false;

  constructor(
    print: (line: string) => void,
    options: OfferPromptsOptions = {},
  ) {
    this.#print = print;
    this.#now = options.now ?? (() => performance.now());
    this.#onWaiting = options.onWaiting ?? (() => {});
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
      else this.#showWaiting();
    });
  }

  /**
   * Takes `line` as the answer to the question shown, if it is one (`y`,
   * `yes`, `n`, `no`, `always`, any case). Returns whether the line was
   * used up: an answer, or one that came too soon after its question (not
   * taken, not chat: the question is shown again).
   */
  answer(line: string): boolean {
    const current = this.#queue[0];
    if (current === undefined) return false;
    const answer = parseAnswer(line, current.offer);
    if (answer === null) return false;
    // The question it was typed for went (its offer taken back), and the
    // next one waits for the line saying so: not shown yet, so not this
    // answer's. Shown now, it came before that line (f930d50).
    if (this.#unshown === current) {
      this.#print(
        `'${line.trim()}' was not taken as an answer nor sent as chat: the question it answered is gone, and the next is not shown yet.`,
      );
      return true;
    }
    if (this.#now() - this.#shownAt < ANSWER_GUARD_MS) {
      this.#print(
        `'${line.trim()}' was not taken as an answer nor sent as chat: it came less than ${
          ANSWER_GUARD_MS / 1000
        } s after the question. Answer again:`,
      );
      this.#show();
      return true;
    }
    if (answer === "no") {
      this.#print(`Declined ${describeOffer(current.offer)}.`);
    }
    this.#settle(current, answer);
    return true;
  }

  /**
   * Drops the question for a transfer that ended meanwhile; `quietly`: why
   * was said already (the sender took the offer back).
   */
  withdraw(xfer: number, quietly = false, said?: Promise<void>): void {
    const pending = this.#queue.find((p) => p.offer.xfer === xfer);
    if (pending !== undefined) {
      this.#settle(pending, "withdrawn", quietly, said);
    }
  }

  /** Withdraws every question (the session is over); nothing is shown. */
  close(): void {
    this.#closing = true;
    for (const pending of [...this.#queue]) this.#settle(pending, "withdrawn");
  }

  /**
   * `said`: the next question waits for it (why this one went, said by the
   * caller in its turn), so it does not come before that line; an answer
   * typed meanwhile is not taken for a question not shown.
   */
  #settle(
    pending: Pending,
    outcome: PromptOutcome,
    quietly = false,
    said?: Promise<void>,
  ): void {
    const index = this.#queue.indexOf(pending);
    if (index === -1) return;
    clearTimeout(pending.timer);
    this.#queue.splice(index, 1);
    pending.resolve(outcome);
    this.#showWaiting();
    if (index !== 0 || this.#closing) return;
    // The question on screen is gone: an answer typed now is not for the next.
    if (outcome === "withdrawn" && !quietly) {
      this.#print(
        `Question withdrawn: ${describeOffer(pending.offer)} was cancelled.`,
      );
    }
    const next = this.#queue[0];
    if (next === undefined) return;
    if (said === undefined) {
      this.#show();
      return;
    }
    this.#unshown = next;
    this.#shownAt = Infinity;
    const show = () => {
      if (this.#unshown === next && this.#queue[0] === next) this.#show();
    };
    void said.then(show, show);
  }

  #show(): void {
    const current = this.#queue[0];
    if (current === undefined) return;
    this.#unshown = null;
    this.#shownAt = this.#now();
    this.#print(offerQuestion(current.offer));
    this.#showWaiting();
  }

  #showWaiting(): void {
    const current = this.#queue[0];
    this.#onWaiting(
      current === undefined
        ? null
        : waitingRow(current.offer, this.#queue.length),
    );
  }
}
