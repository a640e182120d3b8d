// This module is browser compatible.

/**
 * Exactly once and in order, on the client's side (docs/PROTOCOL.md,
 * "Delivery"): what this user has been shown, by message id, so that a
 * message the server sends again after a reconnect is dropped; each
 * sender's and each conversation's newest message shown, so that an older
 * one arriving late is shown as history rather than as new; and the cursors
 * to acknowledge, per conversation, sent in batches.
 *
 * One ledger lives as long as the user's session does, across reconnects:
 * the server resends what was not acknowledged, possibly to the next
 * connection.
 */

import type { Cursor, ServerMessage } from "../protocol/messages.ts";

type ChatMessage = Extract<
  ServerMessage,
  { t: "public" | "private" | "group" }
>;

/**
 * What to do with a chat message: `show` it as it came, show it as
 * `late` (history: older than something already shown from its sender or
 * conversation), or drop it as a `duplicate` of one already shown.
 */
export type Verdict = "show" | "late" | "duplicate";

/**
 * How many message ids a ledger remembers by default. What the server sends
 * again is what was shown but not acknowledged when a connection ended: at
 * most a quarter of a second or 64 messages' worth (ChatClient), far fewer.
 */
export const DEFAULT_REMEMBERED_IDS = 10_000;

/**
 * How many stores' positions a ledger keeps: a client moving round a
 * cluster of a few nodes, each with its own store until they share one,
 * finds its record of each again when it comes back.
 */
const REMEMBERED_STORES = 8;

/** What was shown and is owed an acknowledgement, in one store's positions. */
class Positions {
  /** Ids shown, oldest first (Set order is insertion order). */
  readonly shown = new Set<number>();
  /** Newest id shown per sender (name key), and newest seq per conversation. */
  readonly senderId = new Map<string, number>();
  readonly conversationSeq = new Map<string, number>();
  /** Cursors not yet acknowledged, by conversation key. */
  unacked = new Map<string, Cursor>();
  noted = 0;
}

export class DeliveryLedger {
  readonly #remember: number;
  /**
   * The positions of the store the client is connected to now; those of
   * others it was connected to before, by store id. A message's id and seq
   * mean something only in the store that gave them (docs/PROTOCOL.md 5.3):
   * after moving to another node, a new message must not be dropped as a
   * duplicate of one that had the same id on the old node, nor a cursor of
   * the old node acknowledge anything on the new one.
   */
  #current = new Positions();
  #store: string | null = null;
  readonly #others = new Map<string, Positions>();

  /**
   * `remember`: how many ids to keep for spotting duplicates. The server
   * resends only what was not acknowledged, which is recent: the oldest
   * ids are forgotten first.
   */
  constructor(remember = DEFAULT_REMEMBERED_IDS) {
    this.#remember = remember;
  }

  /** The store whose positions the ledger judges by now; null: not told yet. */
  get store(): string | null {
    return this.#store;
  }

  /**
   * The server just welcomed us announcing `store` (undefined: a server
   * that announces none, whose positions are taken as those seen so far).
   * Call it before judging anything that server sends.
   */
  useStore(store: string | undefined): void {
    if (store === undefined || store === this.#store) return;
    if (this.#store === null) {
      // The first store announced: what was seen so far was seen there
      // (or from a server that announced none: nothing better to go by).
      this.#store = store;
      return;
    }
    this.#others.delete(this.#store);
    this.#others.set(this.#store, this.#current);
    if (this.#others.size > REMEMBERED_STORES) {
      const oldest = this.#others.keys().next();
      if (!oldest.done) this.#others.delete(oldest.value);
    }
    this.#current = this.#others.get(store) ?? new Positions();
    this.#others.delete(store);
    this.#store = store;
  }

  /**
   * Judges a chat message and records it as shown unless it is a
   * duplicate. A message without an id (from a server without a store, or
   * an explicit history request's answer, see `ChatClient`) is always shown.
   * `viewer` is this user's name, to tell whom a private message is with.
   */
  receive(message: ChatMessage, viewer: string): Verdict {
    const { id, seq } = message;
    if (id === undefined || seq === undefined) return "show";
    const positions = this.#current;
    const conversation = conversationOf(message, viewer);
    // A public message is never sent twice (only history requests show it
    // again): its id need not be remembered, which keeps a busy room's
    // ledger small.
    if (conversation !== null) {
      this.#note(conversation, seq);
      if (positions.shown.has(id)) return "duplicate";
      positions.shown.add(id);
      if (positions.shown.size > this.#remember) {
        const oldest = positions.shown.values().next();
        if (!oldest.done) positions.shown.delete(oldest.value);
      }
    }
    const sender = message.from.toLowerCase();
    const conversationKey = conversation?.key ?? "public";
    const lastId = positions.senderId.get(sender) ?? 0;
    const lastSeq = positions.conversationSeq.get(conversationKey) ?? 0;
    if (id < lastId || seq < lastSeq) return "late";
    positions.senderId.set(sender, id);
    positions.conversationSeq.set(conversationKey, seq);
    return "show";
  }

  /** Conversations with something to acknowledge since the last `take`. */
  get pending(): number {
    return this.#current.unacked.size;
  }

  /** Messages noted for acknowledgement since the last `take`. */
  get noted(): number {
    return this.#current.noted;
  }

  /** The cursors to acknowledge now; the ledger then starts afresh. */
  takeCursors(): Cursor[] {
    const cursors = [...this.#current.unacked.values()];
    this.#current.unacked = new Map();
    this.#current.noted = 0;
    return cursors;
  }

  /** Puts back cursors that could not be sent, unless newer ones exist. */
  restore(cursors: readonly Cursor[]): void {
    for (const cursor of cursors) {
      const key = "to" in cursor
        ? privateKey(cursor.to)
        : groupKey(cursor.group);
      const current = this.#current.unacked.get(key);
      if (current === undefined || current.seq < cursor.seq) {
        this.#current.unacked.set(key, cursor);
      }
    }
  }

  #note(conversation: Conversation, seq: number): void {
    const positions = this.#current;
    positions.noted++;
    const current = positions.unacked.get(conversation.key);
    if (current !== undefined && current.seq >= seq) return;
    positions.unacked.set(conversation.key, conversation.cursor(seq));
  }
}

interface Conversation {
  key: string;
  cursor(seq: number): Cursor;
}

/**
 * The conversation a message waits in for acknowledgement: with its sender
 * or recipient, or a group. Public messages never wait (null).
 */
function conversationOf(
  message: ChatMessage,
  viewer: string,
): Conversation | null {
  switch (message.t) {
    case "public":
      return null;
    case "private": {
      // In history, `to` names the recipient when that is not the viewer:
      // the viewer sent it, and the conversation is with `to`.
      const other = message.to !== undefined &&
          message.from.toLowerCase() === viewer.toLowerCase()
        ? message.to
        : message.from;
      return {
        key: privateKey(other),
        cursor: (seq) => ({ to: other, seq }),
      };
    }
    case "group": {
      const group = message.group;
      return {
        key: groupKey(group),
        cursor: (seq) => ({ group, seq }),
      };
    }
    default: {
      const unknown: never = message;
      throw new TypeError(`Not a chat message: ${unknown}`);
    }
  }
}

function privateKey(name: string): string {
  return `p ${name.toLowerCase()}`;
}

function groupKey(name: string): string {
  return `g ${name.toLowerCase()}`;
}
