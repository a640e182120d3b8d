// This module is browser compatible.

/**
 * Scrolling back in All, the web page's view of every conversation: near
 * the top of the log, the older messages of every conversation the page
 * knows (the public room, each person and group the log has messages of,
 * each group this user is in) load, merged in the order they were said
 * (row_order.ts).
 *
 * What All shows must not have gaps that read as the whole past: a room
 * message shown above a private one not loaded yet would say that nothing
 * was said privately in between. So every conversation that has more is
 * asked for a page (one request each out at a time, ALL_ASKS_OUT at most
 * at once), and what comes is held here. Only lines no older than the frontier are shown: the greatest
 * of the cursors of the conversations that still have more (each one's
 * oldest id that answered, docs/PROTOCOL.md 5.4), as from there on every
 * conversation's past is in hand. The rest waits for the next pages. A
 * conversation at its start, or whose history the server refused, holds
 * no one back. One that already holds a page's worth is not asked again
 * until the frontier has passed it (the one that sets the frontier holds
 * nothing once what it allows is shown, so there is always one to ask):
 * what waits stays within a page or two a conversation.
 *
 * A conversation's own view (scroll_back.ts) loads into the same log: All
 * goes on from what it loaded (its cursor, when older, or its start), and
 * the log being full (log_view.ts MAX_ROWS) ends both. Rows its own view
 * or /history put in the log are where they are: All decides only about
 * the rows it adds.
 *
 * @module
 */

import {
  type Conversation,
  conversationKey,
  PUBLIC,
} from "../client/conversations.ts";
import { isValidName } from "../protocol/limits.ts";
import {
  nextScrollBack,
  SCROLL_BACK_PAGE,
  type ScrollBack,
  type ScrollBackAsk,
  scrollBackAsk,
  type ScrollBackOutcome,
  scrollBackText,
} from "./scroll_back.ts";

/** A conversation's scroll-back in All: the log being full is All's, not one's. */
type Track<E> = {
  conversation: Conversation;
  state: Exclude<ScrollBack, { kind: "full" }>;
  /** Loaded and not shown yet, by the id each goes by; oldest first. */
  held: HeldLine<E>[];
};

/** A line loaded for All, with the id of the message it goes with. */
export interface HeldLine<E> {
  event: E;
  id: number;
}

/** A line of a page as it came, with the id of its message if it has one. */
export interface PageLine<E> {
  event: E;
  id: number | undefined;
}

/** A request to make for All: `conversation`'s next page. */
export interface AllAsk extends ScrollBackAsk {
  conversation: Conversation;
}

/** Lines of `conversation` to show now, oldest first. */
export interface Released<E> {
  conversation: Conversation;
  events: E[];
}

/**
 * Requests All has out at most: a page that knows many people must not
 * ask for all their histories at once. Those that hold the frontier back
 * most are asked first.
 */
export const ALL_ASKS_OUT = 4;

/** All's scroll-back over every conversation: what to ask, hold and show. */
export class AllScrollBack<E> {
  #tracks = new Map<string, Track<E>>();
  #full = false;

  /**
   * The requests to make now, each marked out: a page of each conversation
   * of `known` (and each one asked before) that has more, has no request
   * out and does not hold a page already, the newest cursors first, with
   * at most ALL_ASKS_OUT out. `alone`: where each one's own view stands;
   * `room`: the rows the log has room for.
   */
  start(
    known: readonly Conversation[],
    alone: (conversation: Conversation) => ScrollBack,
    room: number,
  ): AllAsk[] {
    if (this.#full || alone(PUBLIC).kind === "full") {
      this.full();
      return [];
    }
    if (room <= 0) {
      this.full();
      return [];
    }
    const tracks = this.#all(known);
    for (const track of tracks) this.#follow(track, alone(track.conversation));
    let out = tracks.filter((track) => track.state.kind === "loading").length;
    const asks: AllAsk[] = [];
    // Stable: among equal cursors (never asked), in the order known.
    const first = tracks.sort((a, b) => bound(b.state) - bound(a.state) || 0);
    for (const track of first) {
      const { state } = track;
      if (state.kind !== "latest" && state.kind !== "older") continue;
      if (track.held.length >= SCROLL_BACK_PAGE) continue;
      if (out >= ALL_ASKS_OUT) break;
      out++;
      asks.push({
        conversation: track.conversation,
        ...scrollBackAsk(track.conversation, state, room),
      });
      track.state = { kind: "loading", was: state };
    }
    return asks;
  }

  /**
   * Takes what the request for `conversation` came to, with its `lines`
   * (oldest first) to hold until they can be shown (see `release`).
   */
  finish(
    conversation: Conversation,
    outcome: ScrollBackOutcome,
    lines: readonly PageLine<E>[],
  ): void {
    const track = this.#tracks.get(conversationKey(conversation));
    if (track?.state.kind !== "loading") return;
    track.state = nextScrollBack(track.state.was, outcome);
    if (this.#full || outcome.kind !== "page") return;
    track.held = [...heldLines(lines, outcome.oldest), ...track.held].sort(
      byId,
    );
  }

  /**
   * The held lines that can be shown now (those no older than the
   * frontier), by conversation, taken from what is held. More than `room`:
   * the newest that fit, and All is full (`cut`), as the log would push
   * out its newest rows for older ones.
   */
  release(room: number): { shown: Released<E>[]; cut: boolean } {
    if (this.#full) return { shown: [], cut: false };
    const frontier = this.#frontier();
    const due: { conversation: Conversation; lines: HeldLine<E>[] }[] = [];
    for (const track of this.#tracks.values()) {
      const at = track.held.findIndex((line) => line.id >= frontier);
      if (at === -1) continue;
      due.push({
        conversation: track.conversation,
        lines: track.held.slice(at),
      });
      track.held = track.held.slice(0, at);
    }
    const count = due.reduce((sum, { lines }) => sum + lines.length, 0);
    let cut = false;
    if (count > room) {
      // The newest `room` of them all; ties (lines of no message) by place.
      const newest = due.flatMap(({ lines }) => lines).sort(byId).slice(
        count - Math.max(room, 0),
      );
      const kept = new Set(newest);
      for (const entry of due) {
        entry.lines = entry.lines.filter((line) => kept.has(line));
      }
      cut = true;
      this.full();
    }
    return {
      shown: due.filter(({ lines }) => lines.length > 0).map((
        { conversation, lines },
      ) => ({ conversation, events: lines.map((line) => line.event) })),
      cut,
    };
  }

  /**
   * Where All's scroll-back stands, for the top of the log: loading while a
   * request is out; the start once every conversation (of `known` too) is at
   * its start; a refusal once the others are; else more to come.
   */
  state(known: readonly Conversation[]): ScrollBack {
    if (this.#full) return { kind: "full" };
    const states = [...this.#tracks.values()].map((track) => track.state);
    const fresh = known.some((conversation) =>
      !this.#tracks.has(conversationKey(conversation))
    );
    const loading = states.find((state) => state.kind === "loading");
    if (loading !== undefined) return loading;
    if (
      fresh ||
      states.some((state) => state.kind === "latest" || state.kind === "older")
    ) return { kind: "latest" };
    return states.find((state) => state.kind === "refused") ??
      { kind: "start" };
  }

  /**
   * All was chosen again: refusals are forgotten (the user may have joined
   * the group since), to be asked again on scrolling.
   */
  again(): void {
    for (const track of this.#tracks.values()) {
      if (track.state.kind === "refused") track.state = { kind: "latest" };
    }
  }

  /**
   * The log is full: All's scroll-back ends, and what it held is let go
   * (older rows would push out newer ones).
   */
  full(): void {
    this.#full = true;
    for (const track of this.#tracks.values()) track.held = [];
  }

  /** The tracks of `known`, made as needed, and of every one asked before. */
  #all(known: readonly Conversation[]): Track<E>[] {
    for (const conversation of known) {
      const key = conversationKey(conversation);
      if (!this.#tracks.has(key)) {
        this.#tracks.set(key, {
          conversation,
          state: { kind: "latest" },
          held: [],
        });
      }
    }
    return [...this.#tracks.values()];
  }

  /**
   * What the conversation's own view loaded is in the log: All goes on
   * from there when it is further back (the rows between are shown).
   */
  #follow(track: Track<E>, own: ScrollBack): void {
    const { state } = track;
    if (state.kind !== "latest" && state.kind !== "older") return;
    if (own.kind === "start") track.state = own;
    else if (
      own.kind === "older" &&
      (state.kind === "latest" || own.before < state.before)
    ) track.state = own;
  }

  /**
   * The smallest id from which every conversation's past is in hand: the
   * greatest cursor of those with more (infinite while one was never asked).
   */
  #frontier(): number {
    let frontier = -Infinity;
    for (const { state } of this.#tracks.values()) {
      frontier = Math.max(frontier, bound(state));
    }
    return frontier;
  }
}

/** Below what a conversation in `state` may still have messages to load. */
function bound(state: Exclude<ScrollBack, { kind: "full" }>): number {
  switch (state.kind) {
    case "latest":
      return Infinity;
    case "older":
      return state.before;
    case "loading":
      return bound(state.was);
    case "start":
    case "refused":
      return -Infinity;
    default: {
      const unreachable: never = state;
      return unreachable;
    }
  }
}

function byId<E>(a: HeldLine<E>, b: HeldLine<E>): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The `lines` of a page (oldest first), each with the id it goes by: its
 * message's, or, for a line of none (one saying a message could not be
 * opened), the next message's, as the log places it (row_order.ts); the
 * last message's when none follows; `oldest` (the page's smallest id)
 * when it has none, and shown at once when that is unknown too.
 */
export function heldLines<E>(
  lines: readonly PageLine<E>[],
  oldest: number | null,
): HeldLine<E>[] {
  const ids: (number | undefined)[] = [];
  let next: number | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    next = lines[i]!.id ?? next;
    ids[i] = next;
  }
  let last = oldest ?? Infinity;
  return lines.map((line, i) => {
    last = ids[i] ?? last;
    return { event: line.event, id: ids[i] ?? last };
  });
}

/**
 * The conversations All scrolls back through: the public room, the groups
 * this user is in (`joined`, by name), and those the log has messages of
 * (`views`: their view keys, row_places.ts), once each.
 */
export function knownConversations(
  views: Iterable<string>,
  joined: Iterable<string>,
): Conversation[] {
  const known = new Map<string, Conversation>();
  const add = (conversation: Conversation) => {
    const key = conversationKey(conversation);
    if (!known.has(key)) known.set(key, conversation);
  };
  add(PUBLIC);
  for (const name of joined) {
    if (isValidName(name)) add({ kind: "group", name });
  }
  for (const view of views) {
    const name = view.slice(1);
    if (!isValidName(name)) continue;
    if (view.startsWith("@")) add({ kind: "user", name });
    else if (view.startsWith("#")) add({ kind: "group", name });
  }
  return [...known.values()];
}

/** What the top of the log says in All about scrolling back, as `state` stands. */
export function allScrollBackText(state: ScrollBack, maxRows: number): string {
  return state.kind === "start"
    ? "Start of every conversation"
    : scrollBackText(PUBLIC, state, maxRows);
}
