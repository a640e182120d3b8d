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
 * Which request a message answers is named by the server: a `history`
 * request's messages carry its id as `req` (docs/PROTOCOL.md 5.4, 5.5), and
 * one that carries none, from a server that names its answers, is not an
 * answer (what waited for the user, a page sent at the sign-in or in answer
 * to an `ack`). A server says so at the sign-in (`"reqs":true` in its
 * `welcome`, docs/PROTOCOL.md 5.3), and then only `req` counts from the
 * start (`named`); from one that does not say, only once one such message
 * came. (Not `re`, which marks a reply: the request's reply is the `ok`
 * after its messages.)
 *
 * A server before `req` names nothing, and the order is all there is. A page
 * of what waited at the sign-in (docs/PROTOCOL.md 5.3) is history too, and
 * the server sends one in answer to an `ack`: one sent before the request
 * may bring a page that arrives before the answer, and nothing in the
 * messages tells the two apart. So every request goes after a `ping`
 * (ChatClient): what comes before its `pong` answers an earlier `ack`, not
 * the request, and is not taken as the answer. Every request, not only one
 * after an `ack`: an `ack` the server held over the rate is applied later
 * on its own, between two frames of the client, and brings its page then.
 * The server answers a connection's requests in turn, so a request that
 * got no reply by the time a later one did was passed over (a server that
 * never answers it, hostile or other): it takes no more messages, which
 * would be the later request's. A request takes only messages of its
 * kind: `public` ones for the public room, others for a target; what waits
 * is never public, so the hidden request every client makes at its sign-in
 * (missed_public.ts `mark`), left unanswered, never takes and hides a page
 * of it that an `ack` brings later. Nor does a request take anything by
 * order after ORDER_MS without a reply (a /history of a conversation that
 * a server leaves unanswered, with nothing asked after it). Two holes
 * remain with such a server, which `reqs` closes: a request it never
 * answers (the sign-in marker) takes a public history message that comes
 * within ORDER_MS, and a page an `ack` brings between a request's `pong`
 * and its answer is taken into the answer.
 *
 * @module
 */

import {
  DEFAULT_HISTORY,
  MAX_HISTORY,
  MAX_HISTORY_BYTES,
} from "../protocol/limits.ts";

/**
 * How long a request unanswered takes messages by their order alone: a
 * reply comes in milliseconds on a LAN, a full one (256 KiB) in well under
 * a second.
 */
export const ORDER_MS = 10_000;

/** What one waiting request may still be answered with. */
interface Allowance {
  messages: number;
  bytes: number;
  /** The `ping` whose reply comes before the answer; null once it came. */
  after: number | null;
  /**
   * Until when (on the answers' clock) it takes messages that name no
   * request; 0 once a later request was replied to (it was passed over).
   */
  orderUntil: number;
  /**
   * Whether it asked for the public room (no `target`), whose answer is
   * `public` messages only, and the answer for a target none; undefined:
   * not known.
   */
  room: boolean | undefined;
}

/** What is known of a request besides its id and limit. */
export interface AskedOptions {
  /** The `ping` sent just before it, whose reply comes before the answer. */
  after?: number;
  /** Whether it asks for the public room (no `target`). */
  room?: boolean;
  /** When it was sent, on the answers' clock (HistoryAnswers `clock`). */
  now?: number;
}

/** What is known of a history message besides its body's size. */
export interface AnswerOptions {
  /** The request the server says it answers (`req`), if it says one. */
  req?: number | undefined;
  /** Whether it is a `public` message. */
  room?: boolean;
  /** When it came, on the answers' clock (HistoryAnswers `clock`). */
  now?: number;
}

export class HistoryAnswers {
  /** By request id, oldest first: the server answers requests in turn. */
  #waiting = new Map<number, Allowance>();
  /** Whether this connection's server names the request a message answers (`req`). */
  #named = false;
  readonly #clock: () => number;

  /**
   * `clock`: milliseconds that only go forward. Monotonic, not the wall
   * clock: a wall clock set forward (NTP, a laptop waking with the time
   * put right) while a request waits ended its ORDER_MS at once, and its
   * answer's messages were shown as history the server sent unasked; set
   * back, a request passed over took messages by order for as long again.
   */
  constructor(clock: () => number = () => performance.now()) {
    this.#clock = clock;
  }

  /**
   * Request `id` asked for `limit` messages (the server's default if none).
   */
  asked(
    id: number,
    limit: number | undefined,
    { after, room, now = this.#clock() }: AskedOptions = {},
  ): void {
    this.#waiting.set(id, {
      messages: Math.min(Math.max(limit ?? DEFAULT_HISTORY, 1), MAX_HISTORY),
      bytes: MAX_HISTORY_BYTES,
      after: after ?? null,
      orderUntil: now + ORDER_MS,
      room,
    });
  }

  /**
   * Request `id` was replied to (or will never be); a request sent after
   * the `ping` `id` may be answered from now on, and one sent before `id`
   * and still waiting was passed over (requests are numbered in the order
   * they are sent, and answered in turn).
   */
  replied(id: number): void {
    this.#waiting.delete(id);
    for (const [asked, allowance] of this.#waiting) {
      if (allowance.after === id) allowance.after = null;
      if (asked < id) allowance.orderUntil = 0;
    }
  }

  /**
   * The server said it names the request of every history message it
   * answers with (`"reqs":true` in its welcome): from now on a message
   * without `req` answers nothing, whatever its order.
   */
  named(): void {
    this.#named = true;
  }

  /** No request waits any more (the connection is gone). */
  clear(): void {
    this.#waiting.clear();
    this.#named = false;
  }

  /**
   * The request a history message with a body of `bodyBytes` answers, while
   * it has room for it and is of its kind (a public message for the public
   * room, another for a target); else none. The one its `req` names, if it
   * names one. Without, from a server that never named one: the oldest
   * waiting, once the reply to the `ping` before it came, and while it was
   * not passed over (nor waited ORDER_MS). So a request for the public room
   * left unanswered (the sign-in marker) never takes a private or group
   * message that waited for the user: those come as history, never public
   * ones (docs/PROTOCOL.md 5.9).
   */
  answer(
    bodyBytes: number,
    { req, room, now = this.#clock() }: AnswerOptions = {},
  ): number | undefined {
    if (req !== undefined) this.#named = true;
    let id: number;
    let allowance: Allowance;
    if (req !== undefined) {
      const named = this.#waiting.get(req);
      if (named === undefined) return undefined;
      [id, allowance] = [req, named];
    } else {
      if (this.#named) return undefined;
      const oldest = this.#oldestInOrder(now);
      if (oldest === undefined) return undefined;
      [id, allowance] = oldest;
      if (allowance.after !== null) return undefined;
    }
    if (
      allowance.messages === 0 || bodyBytes > allowance.bytes ||
      (room !== undefined && allowance.room !== undefined &&
        room !== allowance.room)
    ) {
      return undefined;
    }
    allowance.messages--;
    allowance.bytes -= bodyBytes;
    return id;
  }

  /** The oldest request still taking messages by their order. */
  #oldestInOrder(now: number): [number, Allowance] | undefined {
    for (const entry of this.#waiting) {
      if (entry[1].orderUntil > now) return entry;
    }
    return undefined;
  }
}
