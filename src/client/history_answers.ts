// This module is browser compatible.

/**
 * Which waiting `history` request a history message answers, and how much
 * one request may be answered with. A /history holds its messages' lines
 * until its last page has come, to show them oldest first
 * (history_pages.ts), so what answers a request is kept in memory until the
 * reply. A server's reply holds at most the `limit` asked (1 to
 * MAX_HISTORY) and MAX_HISTORY_BYTES of bodies (docs/PROTOCOL.md 5.4,
 * `history`); a hostile server could send far more, or never reply, and be
 * held without bound. What comes past that is not taken as the request's
 * answer: it is shown as any history the server sends unasked is, at once.
 *
 * @module
 */

import {
  DEFAULT_HISTORY,
  MAX_HISTORY,
  MAX_HISTORY_BYTES,
} from "../protocol/limits.ts";

/** What one waiting request may still be answered with. */
interface Allowance {
  messages: number;
  bytes: number;
}

export class HistoryAnswers {
  /** By request id, oldest first: the server answers requests in turn. */
  #waiting = new Map<number, Allowance>();

  /** Request `id` asked for `limit` messages (the server's default if none). */
  asked(id: number, limit: number | undefined): void {
    this.#waiting.set(id, {
      messages: Math.min(Math.max(limit ?? DEFAULT_HISTORY, 1), MAX_HISTORY),
      bytes: MAX_HISTORY_BYTES,
    });
  }

  /** Request `id` was replied to (or will never be). */
  replied(id: number): void {
    this.#waiting.delete(id);
  }

  /** No request waits any more (the connection is gone). */
  clear(): void {
    this.#waiting.clear();
  }

  /**
   * The request a history message with a body of `bodyBytes` answers: the
   * oldest waiting, while it has room for it; else none.
   */
  answer(bodyBytes: number): number | undefined {
    const oldest = this.#waiting.entries().next().value;
    if (oldest === undefined) return undefined;
    const [id, allowance] = oldest;
    if (allowance.messages === 0 || bodyBytes > allowance.bytes) {
      return undefined;
    }
    allowance.messages--;
    allowance.bytes -= bodyBytes;
    return id;
  }
}
