/// <reference lib="dom" />
/**
 * Loading older messages as the reader scrolls back in the web page's log:
 * the page's side of it, which asks the server (client/history_pages.ts,
 * as /history asks; end-to-end ones opened as the page opens what comes)
 * and puts the rows in the log. A conversation's view loads its own past
 * (scroll_back.ts); All loads every conversation's, merged
 * (all_scroll_back.ts). Browser only (the DOM).
 *
 * @module
 */

import type { ChatClient } from "../client/chat_client.ts";
import { type Conversation, conversationKey } from "../client/conversations.ts";
import { type HistoryPaging, pageHistory } from "../client/history_pages.ts";
import type { SessionEvent } from "../client/session_events.ts";
import {
  type AllAsk,
  AllScrollBack,
  allScrollBackText,
  knownConversations,
  type PageLine,
} from "./all_scroll_back.ts";
import type { LogView } from "./log_view.ts";
import {
  scrollBackOutcome,
  ScrollBacks,
  scrollBackText,
} from "./scroll_back.ts";

/** What loading older messages needs of the page (main.ts). */
export interface OlderPage {
  log: LogView;
  /** The connection to ask, or null while not signed in. */
  client(): ChatClient | null;
  /** How /history asks `client`. */
  paging(client: ChatClient): HistoryPaging;
  /** Shows `event` in the log, as though what answers a command typed in `typedIn`. */
  emit(event: SessionEvent, typedIn: string): void;
  /** The id of the message `event` shows, if it shows one. */
  messageId(event: SessionEvent): number | undefined;
  /** The conversation the log shows; null for All. */
  shown(): Conversation | null;
  /** The names of the groups this user is in. */
  joinedGroups(): Iterable<string>;
}

/** The page's scroll-back, for one conversation's view and for All. */
export class OlderMessages {
  #page: OlderPage;
  /** Each conversation's, in its own view. */
  #alone = new ScrollBacks();
  /** All's, over every conversation. */
  #all = new AllScrollBack<SessionEvent>();

  constructor(page: OlderPage) {
    this.#page = page;
    page.log.whenTrimmed(() => {
      this.#full();
      this.draw();
    });
  }

  /**
   * `conversation` (null: All) was chosen again: a refusal is forgotten
   * (the user may have joined the group since), to be asked again.
   */
  again(conversation: Conversation | null): void {
    if (conversation === null) this.#all.again();
    else this.#alone.again(conversation);
  }

  /** The top of the log says how loading the shown view's past goes. */
  draw(): void {
    const { log } = this.#page;
    const shown = this.#page.shown();
    log.head.textContent = shown === null
      ? allScrollBackText(this.#all.state(this.#known()), log.maxRows)
      : scrollBackText(shown, this.#alone.of(shown), log.maxRows);
  }

  /**
   * Loads the shown view's older messages when the reader is within a
   * screen of the log's top, or the log does not fill its screen (at sign
   * in, say: the latest messages are shown as in every web chat).
   */
  loadIfNear(): void {
    const client = this.#page.client();
    if (client === null || client.isOver) return;
    const { element } = this.#page.log;
    // A hidden log (not signed in) has no height: nothing is near.
    if (element.scrollTop >= element.clientHeight) return;
    const shown = this.#page.shown();
    if (shown === null) this.#loadAll(client);
    else void this.#loadOlder(client, shown);
  }

  /**
   * One page of `conversation`'s older messages, put above the log's rows;
   * then more, while the log is still near its top.
   */
  async #loadOlder(
    client: ChatClient,
    conversation: Conversation,
  ): Promise<void> {
    const { log } = this.#page;
    const ask = this.#alone.start(conversation, log.room);
    this.draw();
    if (ask === null) return;
    let paged;
    try {
      paged = await pageHistory(
        ask.command,
        this.#page.paging(client),
        ask.before,
      );
    } catch {
      // No reply to go on: asked again on the next scroll. (A connection's
      // end answers every request, scrollBackOutcome takes it as failed.)
      this.#alone.finish(conversation, { kind: "failed" });
      this.draw();
      return;
    }
    const { showLines, reply, oldest } = paged;
    const cut = this.#above(conversation, showLines);
    this.#alone.finish(conversation, scrollBackOutcome(reply, oldest, cut));
    if (cut) this.#full();
    this.draw();
    if (reply.t === "ok" && client === this.#page.client()) this.loadIfNear();
  }

  /** Asks every conversation All waits for for its next page. */
  #loadAll(client: ChatClient): void {
    const asks = this.#all.start(
      this.#known(),
      (conversation) => this.#alone.of(conversation),
      this.#page.log.room,
    );
    this.draw();
    for (const ask of asks) void this.#loadAllPage(client, ask);
  }

  /**
   * One page of a conversation for All: held, and what can be shown now
   * put in the log; then more, while the log is still near its top.
   */
  async #loadAllPage(client: ChatClient, ask: AllAsk): Promise<void> {
    const { conversation } = ask;
    let paged;
    try {
      paged = await pageHistory(
        ask.command,
        this.#page.paging(client),
        ask.before,
      );
    } catch {
      this.#all.finish(conversation, { kind: "failed" }, []);
      this.draw();
      return;
    }
    const { showLines, reply, oldest } = paged;
    const lines: PageLine<SessionEvent>[] = [];
    showLines((event) =>
      lines.push({ event, id: this.#page.messageId(event) })
    );
    this.#all.finish(
      conversation,
      scrollBackOutcome(reply, oldest, false),
      lines,
    );
    const { shown, cut } = this.#all.release(this.#page.log.room);
    let trimmed = cut;
    for (const { conversation, events } of shown) {
      const each = (emit: (event: SessionEvent) => void) =>
        events.forEach(emit);
      if (this.#above(conversation, each)) trimmed = true;
    }
    if (trimmed) this.#full();
    this.draw();
    if (reply.t === "ok" && client === this.#page.client()) this.loadIfNear();
  }

  /**
   * Puts the lines `showLines` hands on above `conversation`'s rows, among
   * the others in the order the server stored them (All shows them all),
   * shown in its view (and All); what is not a message of it (one that
   * cannot be opened) as well. Returns whether the log cut any.
   */
  #above(
    conversation: Conversation,
    showLines: (emit: (event: SessionEvent) => void) => void,
  ): boolean {
    const { log, emit, messageId } = this.#page;
    const place = conversationKey(conversation);
    return log.above(place, () =>
      showLines((event) => {
        // Already in the log: it came live (the first page, asked without a
        // cursor, is the latest, which may hold what came meanwhile), or
        // with /history or the other view's scroll-back.
        const id = messageId(event);
        if (id === undefined || !log.shows(id)) emit(event, place);
      }));
  }

  /** The log is full: no view's scroll-back can tell what of it is shown. */
  #full(): void {
    this.#alone.full();
    this.#all.full();
  }

  /** The conversations the page knows (all_scroll_back.ts). */
  #known(): Conversation[] {
    return knownConversations(
      this.#page.log.messageViews(),
      this.#page.joinedGroups(),
    );
  }
}
