// This module is browser compatible.

/**
 * Public messages said while the connection was down. The server sends the
 * public room live to whoever is online and keeps no queue of it for
 * anyone (docs/PROTOCOL.md 5.9), unlike private and group messages, which
 * wait and come again: so on a reconnection the client asks for the public
 * messages after the last message it showed (`history` with `after`,
 * docs/PROTOCOL.md 5.4), shows at most MISSED_LIMIT of them under one
 * line, each once and in order, and says when there were more. Live public
 * messages that come meanwhile wait for the answer: the server answers in
 * order, so those routed before it are in it too (shown once, from it), and
 * those after it come after it. They wait HOLD_MS at most (a server that
 * says `slow_down` is asked again for up to half a minute): then they are
 * shown as they come, and the missed ones after them under a line that says
 * they came late. Every session `mark`s where the room stood at its sign-in,
 * so that one that showed nothing yet still has a place to start from: the
 * welcome says it (`last_id`), and a server before that is asked. For the
 * terminal, `--json` and the web page alike.
 *
 * @module
 */

import { wasUnanswered } from "./chat_client.ts";
import type { HistoryPaging } from "./history_pages.ts";
import {
  emptyHistoryCount,
  type HistoryCount,
  releaseHistory,
} from "./history_count.ts";
import type { SessionEvent } from "./session_events.ts";

/** The most missed public messages shown at a reconnection; /history has the rest. */
export const MISSED_LIMIT = 100;

/**
 * The most live public messages held while a catch-up waits: past them, a
 * server that is slow to answer (or never does) gets its live lines shown
 * at once, not kept in memory without bound.
 */
export const MAX_HELD = 200;

/**
 * The longest live public lines wait for a catch-up's answer: a first
 * answer comes in milliseconds, and one refused with `slow_down` is asked
 * again for up to 27.5 s (with_patience.ts), too long for the room to stand
 * still.
 */
export const HOLD_MS = 5_000;

/** The line above them. */
export const MISSED_HEADER = "While you were away:";

/** Said when the live lines stop waiting for a catch-up that is slow to come. */
export const MISSED_LATE =
  "(Still fetching what was said while you were away: newer lines are shown meanwhile)";

/** The line above missed ones that came after live lines said since. */
export const MISSED_LATE_HEADER =
  "While you were away (fetched late: said before the newer lines above):";

/**
 * Under the header when more were missed than are shown. Without a number:
 * ids are shared by every conversation of the store (a private or group
 * message takes one too; a cluster's are its log's sequence), so their gap
 * counts no public message, and the server would have to read every missed
 * one to count them (a week away is a long range): "more than" is what the
 * client knows for what one bounded request costs.
 */
export const MISSED_EARLIER =
  `... earlier public messages were missed too (more than ${MISSED_LIMIT}): /history to read them`;

/**
 * Said when the server refused the catch-up (still `slow_down` after the
 * retries, an error): what was said meanwhile is not lost without a word.
 */
export function missedRefused(reason: string): string {
  return `ERROR: Could not fetch what was said while you were away (${
    reason.replace(/^ERROR: /, "").replace(/\.$/, "")
  }): /history to read it.`;
}

/** The id of a chat message, if the server gave one. */
function idOf(event: SessionEvent): number | undefined {
  if (event.type !== "incoming") return undefined;
  const { message } = event;
  return "id" in message && typeof message.id === "number"
    ? message.id
    : undefined;
}

/** A run of message ids: every public message in it was shown live on one connection. */
interface Range {
  from: number;
  to: number;
}

export class MissedPublic {
  /** The newest message id shown: nothing up to it was missed. */
  #cursor: number | null = null;
  /** Live public messages held while a catch-up waits for its answer; null: none is. */
  #held: { id: number | undefined; show: () => void }[] | null = null;
  /** The ids the catch-ups since the last held lines were let go brought. */
  #brought = new Set<number>();
  /** Counts the catch-ups begun: the newest one lets the held lines go. */
  #generation = 0;
  /**
   * Where the catch-up under way started: kept until an answer came, so a
   * connection lost before it makes the next one ask from there, not from
   * the live lines shown meanwhile (`#cursor` moved past what is missed).
   */
  #pending: number | null = null;
  /**
   * The live lines shown while a catch-up under way got no answer yet, a
   * range of ids per connection: the server sends every public message to
   * every connection but the sender's in the order of their ids, so an
   * answer's line within a range was shown already.
   */
  #ranges: Range[] = [];
  /**
   * The client's own public lines confirmed while a catch-up is under way:
   * each id alone, never in a range. A line cut off from its answer and
   * sent again with its cid is answered with the id stored the first time
   * (docs/PROTOCOL.md 5.9), older than what others said while it was away:
   * a range from it to a live line would cover (and drop) those.
   */
  #own = new Set<number>();
  /** This connection's range, once one of its live lines was shown. */
  #open: Range | null = null;
  /** The newest catch-up let its held lines go before its answer came. */
  #late = false;
  /** Where the newest catch-up says so. */
  #emit: (event: SessionEvent) => void = () => {};
  /** Settles when no live line is held any more. */
  #letGo: PromiseWithResolvers<void> | null = null;
  #holdMs: number;

  /** `holdMs`: how long live lines wait for a catch-up (tests shorten it). */
  constructor(options: { holdMs?: number } = {}) {
    this.#holdMs = options.holdMs ?? HOLD_MS;
  }

  /** Where the next catch-up starts: null until a message with an id was shown. */
  get cursor(): number | null {
    return this.#cursor;
  }

  /**
   * A message with `id` was shown (live or as history, any conversation):
   * ids grow with time in one store (and a cluster's log), so one is a
   * point in time the client was there for.
   */
  shown(id: number | undefined): void {
    if (id === undefined) return;
    if (this.#cursor === null || id > this.#cursor) this.#cursor = id;
  }

  /**
   * The server confirmed a public line this client sent (shown as
   * "Broadcast message sent: ..."): a `say` with a cid is answered with
   * the stored message's id (docs/PROTOCOL.md 5.9), and the server sends
   * the sender no copy of it, so without this the next catch-up would show
   * the client's own line again under MISSED_HEADER.
   */
  sent(event: SessionEvent): void {
    if (
      event.type === "reply" && event.command.kind === "say" &&
      event.reply.t === "ok"
    ) {
      this.shown(event.reply.id);
      // Confirmed while a catch-up is under way: its answer may hold it.
      if (this.#pending !== null && event.reply.id !== undefined) {
        this.#own.add(event.reply.id);
      }
    }
  }

  /**
   * At a sign-in, when nothing was shown yet: takes the newest public
   * message's id as where a later catch-up starts, showing nothing (one
   * `history` request for one message), so that someone who signed in to
   * a quiet room and saw nothing (a person, a script, a program, the web
   * page in an empty room) is still shown what was said while their
   * connection was down. Nothing when a message was shown already.
   * `welcomed`: the sign-in's welcome's `last_id` (docs/PROTOCOL.md 5.3),
   * taken with no request: a request refused with `slow_down` and cut off
   * by a drop before its answer (a class signing in at once from one
   * address) left no place, and what was said during the drop was lost
   * without a word. A server before it is asked.
   */
  async mark(paging: HistoryPaging, welcomed?: number): Promise<void> {
    if (this.#cursor !== null) return;
    if (welcomed !== undefined) return this.shown(welcomed);
    const { reply, asked } = await paging.ask({ t: "history", limit: 1 });
    await paging.settled();
    if (reply.re === null) return;
    const count = paging.counts.take(asked, reply.re);
    // Held, never shown: it was said before this sign-in.
    releaseHistory([count], () => {});
    // An empty room (or a server that keeps nothing, which will answer the
    // catch-up with nothing too): everything from now on is after 0.
    if (reply.t === "ok") this.shown(count.oldest ?? 0);
  }

  /**
   * Whether a live public message is held back because a catch-up waits
   * for its answer; `show` then shows it after the missed ones, unless the
   * answer brought it. Past MAX_HELD of them, they are let go.
   */
  hold(id: number | undefined, show: () => void): boolean {
    if (this.#held !== null && this.#held.length >= MAX_HELD) this.#letGoNow();
    if (this.#held === null) {
      if (this.#pending !== null) this.#shownLive(id);
      return false;
    }
    this.#held.push({ id, show });
    return true;
  }

  /**
   * Settles once no live line waits for a catch-up: its answer came, or
   * HOLD_MS passed. What answers a line typed meanwhile may wait for it.
   */
  whenLetGo(): Promise<void> {
    return this.#letGo?.promise ?? Promise.resolve();
  }

  /**
   * On a reconnection: asks for the public messages after the last one
   * shown and hands their lines to `emit`, oldest first under
   * MISSED_HEADER, then the live ones held meanwhile (or, past HOLD_MS,
   * the live ones first and the missed ones after them under
   * MISSED_LATE_HEADER). Nothing before the first message shown (a new
   * user gets no flood): a session with no place yet takes one now, as at
   * a sign-in (`mark`). Nothing on a server without ids. The lines go
   * through the session's history counting (`paging.counts`), so someone
   * ignored stays hidden there too. `self`: this user's name, whose own
   * lines are left out: one in flight when the connection dropped is sent
   * again on the new connection and confirmed there ("Broadcast message
   * sent: ..."), often after this answer (it waits behind the lines typed
   * before it), and was shown twice, once among what others said.
   */
  async catchUp(
    paging: HistoryPaging,
    emit: (event: SessionEvent) => void,
    self?: string,
  ): Promise<void> {
    const after = this.#pending ?? this.#cursor;
    if (after === null) return await this.mark(paging);
    this.#pending = after;
    // A catch-up still waiting when the connection it asked on was lost is
    // taken over by this one: the lines held meanwhile wait for this
    // answer, and what it showed already is not shown again.
    const generation = ++this.#generation;
    if (this.#open !== null) this.#ranges.push(this.#open);
    this.#open = null;
    this.#late = false;
    this.#emit = emit;
    if (this.#held === null) {
      this.#held = [];
      this.#brought = new Set();
      this.#letGo = Promise.withResolvers();
    }
    const brought = this.#brought;
    const timer = setTimeout(() => {
      if (generation === this.#generation) this.#letGoNow();
    }, this.#holdMs);
    let current = true;
    try {
      const { reply, asked } = await paging.ask({
        t: "history",
        limit: MISSED_LIMIT,
        after,
      });
      await paging.settled();
      current = generation === this.#generation;
      const count: HistoryCount = reply.re === null
        ? emptyHistoryCount()
        : paging.counts.take(asked, reply.re);
      // A server before `after` answers with the newest messages of all:
      // those the client showed already are not shown again. Only public
      // lines, and only MISSED_LIMIT of them, whatever a server sends.
      count.held = count.held.filter((event) => {
        if (event.type === "incoming" && event.message.t !== "public") {
          return false;
        }
        if (
          event.type === "incoming" && event.message.t === "public" &&
          self !== undefined &&
          event.message.from.toLowerCase() === self.toLowerCase()
        ) return false;
        const id = idOf(event);
        if (id === undefined) return true;
        if (id <= after || brought.has(id) || this.#wasShownLive(id)) {
          return false;
        }
        brought.add(id);
        return true;
      });
      const cut = count.held.length > MISSED_LIMIT;
      if (cut) count.held = count.held.slice(-MISSED_LIMIT);
      if (reply.t === "ok" && count.held.length > 0) {
        emit({
          type: "notice",
          text: current && this.#late ? MISSED_LATE_HEADER : MISSED_HEADER,
        });
        if (reply.more === true || cut) {
          emit({ type: "notice", text: MISSED_EARLIER });
        }
      }
      releaseHistory([count], emit);
      for (const event of count.held) this.shown(idOf(event));
      // Refused: said, unless the connection ended first (the next
      // reconnection asks again from the same place).
      if (current && !wasUnanswered(reply)) {
        if (reply.t === "error") {
          emit({
            type: "error",
            re: null,
            code: reply.code,
            text: missedRefused(reply.text),
          });
        }
        this.#pending = null;
      }
    } finally {
      clearTimeout(timer);
      if (current && generation === this.#generation) {
        this.#letGoNow(false);
        this.#late = false;
        if (this.#pending === null) {
          this.#ranges = [];
          this.#open = null;
          this.#own.clear();
        }
      }
    }
  }

  /**
   * Shows the live lines held (but those an answer brought), and the ones
   * that come from now on as they come; `late`: before the answer, which
   * is said.
   */
  #letGoNow(late = true): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    if (late) {
      this.#late = true;
      this.#emit({ type: "notice", text: MISSED_LATE });
    }
    for (const live of held) {
      if (live.id !== undefined && this.#brought.has(live.id)) continue;
      if (this.#pending !== null) this.#shownLive(live.id);
      live.show();
    }
    this.#letGo?.resolve();
    this.#letGo = null;
  }

  /** A live line was shown while a catch-up is under way. */
  #shownLive(id: number | undefined): void {
    if (id === undefined) return;
    if (this.#open === null) this.#open = { from: id, to: id };
    else {
      this.#open.from = Math.min(this.#open.from, id);
      this.#open.to = Math.max(this.#open.to, id);
    }
  }

  /** Whether the message with `id` was shown live during the catch-up under way. */
  #wasShownLive(id: number): boolean {
    const within = (range: Range | null) =>
      range !== null && id >= range.from && id <= range.to;
    return this.#own.has(id) || within(this.#open) ||
      this.#ranges.some(within);
  }
}
