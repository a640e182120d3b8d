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

export class DeliveryLedger {
  readonly #remember: number;
  /** Ids shown, oldest first (Set order is insertion order). */
  readonly #shown = new Set<number>();
  /** Newest id shown per sender (name key), and newest seq per conversation. */
  readonly #senderId = new Map<string, number>();
  readonly #conversationSeq = new Map<string, number>();
  /** Cursors not yet acknowledged, by conversation key. */
  #unacked = new Map<string, Cursor>();
  #noted = 0;

  /**
   * `remember`: how many ids to keep for spotting duplicates. The server
   * resends only what was not acknowledged, which is recent: the oldest
   * ids are forgotten first.
   */
  constructor(remember = DEFAULT_REMEMBERED_IDS) {
    this.#remember = remember;
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
    const conversation = conversationOf(message, viewer);
    // A public message is never sent twice (only history requests show it
    // again): its id need not be remembered, which keeps a busy room's
    // ledger small.
    if (conversation !== null) {
      this.#note(conversation, seq);
      if (this.#shown.has(id)) return "duplicate";
      this.#shown.add(id);
      if (this.#shown.size > this.#remember) {
        const oldest = this.#shown.values().next();
        if (!oldest.done) this.#shown.delete(oldest.value);
      }
    }
    const sender = message.from.toLowerCase();
    const conversationKey = conversation?.key ?? "public";
    const lastId = this.#senderId.get(sender) ?? 0;
    const lastSeq = this.#conversationSeq.get(conversationKey) ?? 0;
    if (id < lastId || seq < lastSeq) return "late";
    this.#senderId.set(sender, id);
    this.#conversationSeq.set(conversationKey, seq);
    return "show";
  }

  /** Conversations with something to acknowledge since the last `take`. */
  get pending(): number {
    return this.#unacked.size;
  }

  /** Messages noted for acknowledgement since the last `take`. */
  get noted(): number {
    return this.#noted;
  }

  /** The cursors to acknowledge now; the ledger then starts afresh. */
  takeCursors(): Cursor[] {
    const cursors = [...this.#unacked.values()];
    this.#unacked = new Map();
    this.#noted = 0;
    return cursors;
  }

  /** Puts back cursors that could not be sent, unless newer ones exist. */
  restore(cursors: readonly Cursor[]): void {
    for (const cursor of cursors) {
      const key = "to" in cursor
        ? privateKey(cursor.to)
        : groupKey(cursor.group);
      const current = this.#unacked.get(key);
      if (current === undefined || current.seq < cursor.seq) {
        this.#unacked.set(key, cursor);
      }
    }
  }

  #note(conversation: Conversation, seq: number): void {
    this.#noted++;
    const current = this.#unacked.get(conversation.key);
    if (current !== undefined && current.seq >= seq) return;
    this.#unacked.set(conversation.key, conversation.cursor(seq));
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
