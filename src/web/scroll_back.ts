// This module is browser compatible.

/**
 * Scrolling back in the web page: as in every web chat, when the reader
 * nears the top of the log, the older messages of the conversation they
 * write to (the public room, a person, a group) load above what is there,
 * a page at a time (docs/PROTOCOL.md 5.4, `history` with `before`), until
 * the server says nothing older remains. This is the bookkeeping, one state
 * per conversation and one request out at a time; the page
 * (older_messages.ts) asks and draws. All scrolls back through every
 * conversation at once (all_scroll_back.ts).
 *
 * @module
 */

import { type Reply, wasUnanswered } from "../client/chat_client.ts";
import type { Command } from "../client/commands.ts";
import { type Conversation, conversationKey } from "../client/conversations.ts";
import { pageText } from "./page_text.ts";

/** Messages asked for at a time: a screen or two of lines. */
export const SCROLL_BACK_PAGE = 50;

/** Where a conversation's scroll-back stands. */
export type ScrollBack =
  /**
   * Nothing asked yet: the first page is the latest one, asked without a
   * cursor (a server from before `before` would ignore it and answer with
   * the latest anyway, then shown twice).
   */
  | { kind: "latest" }
  /** The server said older ones remain: they are older than `before`. */
  | { kind: "older"; before: number }
  /** A request is out; `was` is where it started, to go back to if it fails. */
  | { kind: "loading"; was: Extract<ScrollBack, { kind: "latest" | "older" }> }
  /** The server said nothing older remains: the start of the conversation. */
  | { kind: "start" }
  /**
   * The log holds as many rows as it keeps (log_view.ts MAX_ROWS): older
   * ones would push out newer ones, and once rows were pushed out the
   * cursors and the start marker no longer match what is shown.
   */
  | { kind: "full" }
  /** The server refused (not a member of the group, no such user): its words. */
  | { kind: "refused"; text: string };

/** What a scroll-back request came to. */
export type ScrollBackOutcome =
  /**
   * A reply: `more` as the server said it; `oldest` the smallest id that
   * answered; `cut` when the log could not keep all its lines.
   */
  | { kind: "page"; more: boolean; oldest: number | null; cut: boolean }
  /** Refused, in the server's words. */
  | { kind: "refused"; text: string }
  /** No reply (the connection ended): asked again on the next scroll. */
  | { kind: "failed" };

/** The request to make: `command`, older than `before` when set. */
export interface ScrollBackAsk {
  command: Extract<Command, { kind: "history" }>;
  before: number | undefined;
}

/** Each conversation's scroll-back, by conversation key. */
export class ScrollBacks {
  #states = new Map<string, ScrollBack>();
  /** A request is out. */
  #out = false;
  /** The log is one for every conversation: once it is full, all are. */
  #full = false;

  /** Where `conversation`'s scroll-back stands. */
  of(conversation: Conversation): ScrollBack {
    if (this.#full) return { kind: "full" };
    return this.#states.get(conversationKey(conversation)) ??
      { kind: "latest" };
  }

  /**
   * The request for `conversation`'s older messages, marked out, or null:
   * one is out already (the log is one, and a second page would land in
   * the middle of it), nothing older can come, or the log has no `room`
   * for another row.
   */
  start(conversation: Conversation, room: number): ScrollBackAsk | null {
    if (this.#out) return null;
    const state = this.of(conversation);
    if (state.kind !== "latest" && state.kind !== "older") return null;
    if (room <= 0) {
      this.#full = true;
      return null;
    }
    this.#out = true;
    this.#states.set(conversationKey(conversation), {
      kind: "loading",
      was: state,
    });
    return scrollBackAsk(conversation, state, room);
  }

  /** Takes what the request `start` made for `conversation` came to. */
  finish(conversation: Conversation, outcome: ScrollBackOutcome): void {
    this.#out = false;
    const key = conversationKey(conversation);
    const state = this.#states.get(key);
    if (state?.kind !== "loading") return;
    if (outcome.kind === "page" && outcome.cut) this.#full = true;
    this.#states.set(key, nextScrollBack(state.was, outcome));
  }

  /**
   * `conversation` was chosen again: a refusal is forgotten (the user may
   * have joined the group since), to be asked again on scrolling.
   */
  again(conversation: Conversation): void {
    const key = conversationKey(conversation);
    if (this.#states.get(key)?.kind === "refused") this.#states.delete(key);
  }

  /**
   * The log pushed rows out (log_view.ts): every conversation's
   * scroll-back ends, as none can tell any more what of it is shown.
   */
  full(): void {
    this.#full = true;
  }
}

/**
 * What the reply to a scroll-back request comes to, with `oldest` and `cut`
 * for a page. One the connection's end left unanswered failed, to be asked
 * again once back: taken as a refusal, its "Not sent" would stay at the top
 * and stop scrolling back until the conversation is chosen again.
 */
export function scrollBackOutcome(
  reply: Reply,
  oldest: number | null,
  cut: boolean,
): ScrollBackOutcome {
  if (reply.t === "ok") {
    return { kind: "page", more: reply.more === true, oldest, cut };
  }
  if (wasUnanswered(reply)) return { kind: "failed" };
  return { kind: "refused", text: "text" in reply ? reply.text : reply.t };
}

/**
 * The request for a page of `conversation`'s older messages from `state`,
 * at most `room` of them.
 */
export function scrollBackAsk(
  conversation: Conversation,
  state: Extract<ScrollBack, { kind: "latest" | "older" }>,
  room: number,
): ScrollBackAsk {
  return {
    command: {
      kind: "history",
      ...(conversation.kind === "public" ? {} : { target: conversation.name }),
      limit: Math.min(SCROLL_BACK_PAGE, room),
    },
    before: state.kind === "older" ? state.before : undefined,
  };
}

/** Where a scroll-back that was at `was` stands after its request came to `outcome`. */
export function nextScrollBack(
  was: Extract<ScrollBack, { kind: "latest" | "older" }>,
  outcome: ScrollBackOutcome,
): Exclude<ScrollBack, { kind: "loading" | "full" }> {
  switch (outcome.kind) {
    case "failed":
      return was;
    case "refused":
      return { kind: "refused", text: outcome.text };
    case "page":
      if (!outcome.more) return { kind: "start" };
      // Older ones remain but nothing came with an id to go on from (one
      // message past the byte cap): the server gives nothing older.
      if (outcome.oldest === null) return { kind: "start" };
      // Nor does one whose oldest id is not older than asked for (a server
      // that ignored the cursor): asking again would bring the same page.
      if (was.kind === "older" && outcome.oldest >= was.before) {
        return { kind: "start" };
      }
      return { kind: "older", before: outcome.oldest };
    default: {
      const unreachable: never = outcome;
      return unreachable;
    }
  }
}

/**
 * What the top of the log says about `conversation`'s scroll-back, with
 * `maxRows` the rows the log keeps; empty while older messages come on
 * scrolling. A refusal is the server's words, made safe to show
 * (page_text.ts).
 */
export function scrollBackText(
  conversation: Conversation,
  state: ScrollBack,
  maxRows: number,
): string {
  switch (state.kind) {
    case "latest":
    case "older":
      return "";
    case "loading":
      return "Loading older messages…";
    case "start":
      return `Start of ${conversationName(conversation)}`;
    case "full":
      return `This page keeps its last ${maxRows} lines: /history shows older messages (below)`;
    case "refused":
      return pageText(state.text);
    default: {
      const unreachable: never = state;
      return unreachable;
    }
  }
}

/** As the server names a conversation in its history replies. */
function conversationName(conversation: Conversation): string {
  switch (conversation.kind) {
    case "public":
      return "the public room";
    case "user":
      return `your conversation with ${conversation.name}`;
    case "group":
      return `group '${conversation.name}'`;
    default: {
      const unreachable: never = conversation;
      return unreachable;
    }
  }
}
