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
 * A page of what waited at the sign-in (docs/PROTOCOL.md 5.3) is history
 * too, and the server sends one in answer to an `ack`: one sent before the
 * request may bring a page that arrives before the answer, and nothing in
 * the messages tells the two apart. So every request goes after a `ping`
 * (ChatClient): what comes before its `pong` answers an earlier `ack`, not
 * the request, and is not taken as the answer. Every request, not only one
 * after an `ack`: an `ack` the server held over the rate is applied later
 * on its own, between two frames of the client, and brings its page then.
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
  /** The `ping` whose reply comes before the answer; null once it came. */
  after: number | null;
}

export class HistoryAnswers {
  /** By request id, oldest first: the server answers requests in turn. */
  #waiting = new Map<number, Allowance>();

  /**
   * Request `id` asked for `limit` messages (the server's default if none);
   * `after`: the id of the `ping` sent just before it, whose reply comes
   * before the answer.
   */
  asked(id: number, limit: number | undefined, after?: number): void {
    this.#waiting.set(id, {
      messages: Math.min(Math.max(limit ?? DEFAULT_HISTORY, 1), MAX_HISTORY),
      bytes: MAX_HISTORY_BYTES,
      after: after ?? null,
    });
  }

  /**
   * Request `id` was replied to (or will never be); a request sent after
   * the `ping` `id` may be answered from now on.
   */
  replied(id: number): void {
    this.#waiting.delete(id);
    for (const allowance of this.#waiting.values()) {
      if (allowance.after === id) allowance.after = null;
    }
  }

  /** No request waits any more (the connection is gone). */
  clear(): void {
    this.#waiting.clear();
  }

  /**
   * The request a history message with a body of `bodyBytes` answers: the
   * oldest waiting, once the reply to the `ping` before it came, while it
   * has room for it; else none.
   */
  answer(bodyBytes: number): number | undefined {
    const oldest = this.#waiting.entries().next().value;
    if (oldest === undefined) return undefined;
    const [id, allowance] = oldest;
    if (
      allowance.after !== null || allowance.messages === 0 ||
      bodyBytes > allowance.bytes
    ) {
      return undefined;
    }
    allowance.messages--;
    allowance.bytes -= bodyBytes;
    return id;
  }
}
