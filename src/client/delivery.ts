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
  /**
   * Seqs of end-to-end messages being opened, by conversation key: no
   * cursor passes them before they are dealt with (`opened`).
   */
  readonly #opening = new Map<string, OpeningSeqs>();
  /** The newest cursor held back behind a message being opened, by key. */
  readonly #heldBack = new Map<
    string,
    { conversation: Conversation; seq: number }
  >();
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
   * `opening`: the message is end to end and is not acknowledged until
   * `opened` says it was dealt with (opened, kept for later, or shown as an
   * error), nor is anything after it in its conversation; a duplicate of it
   * is dropped meanwhile.
   */
  receive(message: ChatMessage, viewer: string, opening = false): Verdict {
    const { id, seq } = message;
    if (id === undefined || seq === undefined) return "show";
    const conversation = conversationOf(message, viewer);
    // A public message is never sent twice (only history requests show it
    // again): its id need not be remembered, which keeps a busy room's
    // ledger small.
    if (conversation !== null) {
      if (this.#shown.has(id)) {
        this.#note(conversation, seq);
        return "duplicate";
      }
      if (opening) {
        let seqs = this.#opening.get(conversation.key);
        if (seqs === undefined) {
          seqs = new OpeningSeqs();
          this.#opening.set(conversation.key, seqs);
        }
        seqs.add(seq);
      } else this.#note(conversation, seq);
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

  /**
   * A message `receive`d with `opening` was dealt with: it, and what was
   * held back behind it, may now be acknowledged.
   */
  opened(message: ChatMessage, viewer: string): void {
    const { id, seq } = message;
    if (id === undefined || seq === undefined) return;
    const conversation = conversationOf(message, viewer);
    if (conversation === null) return;
    const seqs = this.#opening.get(conversation.key);
    if (seqs === undefined || !seqs.delete(seq)) return;
    if (seqs.size === 0) this.#opening.delete(conversation.key);
    this.#note(conversation, seq);
    const held = this.#heldBack.get(conversation.key);
    if (held !== undefined) {
      this.#heldBack.delete(conversation.key);
      this.#note(held.conversation, held.seq);
    }
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
    const opening = this.#opening.get(conversation.key);
    if (opening !== undefined) {
      // A cursor says everything up to it was shown: it stops below the
      // first message still being opened, and the rest waits for it.
      const below = opening.min() - 1;
      if (seq > below) {
        const held = this.#heldBack.get(conversation.key);
        if (held === undefined || held.seq < seq) {
          this.#heldBack.set(conversation.key, { conversation, seq });
        }
        seq = below;
        if (seq < 1) return;
      }
    }
    const current = this.#unacked.get(conversation.key);
    if (current !== undefined && current.seq >= seq) return;
    this.#unacked.set(conversation.key, conversation.cursor(seq));
  }
}

/**
 * The seqs of one conversation's messages being opened: added, dealt with
 * and the smallest asked for once a message each, so each in O(log n). A
 * reader that leaves its lines unwritten (a stalled terminal, a --json
 * program that does not read) keeps up to its queue's 16,384 of them here,
 * and messages waiting for their keys stay for as long as the keys are
 * away: scanned whole at each (an indexOf, a splice, a Math.min of them
 * all), a queue's worth took seconds, during which no ping was answered.
 * A min-heap, whose entries dealt with go once they reach its top (or at a
 * rebuild, when they are most of it).
 */
class OpeningSeqs {
  /** How many copies of each seq are being opened. */
  readonly #live = new Map<number, number>();
  #count = 0;
  #heap: number[] = [];

  /** Copies being opened. */
  get size(): number {
    return this.#count;
  }

  add(seq: number): void {
    const copies = this.#live.get(seq) ?? 0;
    this.#live.set(seq, copies + 1);
    this.#count++;
    if (copies === 0) this.#push(seq);
  }

  /** One copy of `seq` dealt with; false when none was being opened. */
  delete(seq: number): boolean {
    const copies = this.#live.get(seq);
    if (copies === undefined) return false;
    if (copies === 1) this.#live.delete(seq);
    else this.#live.set(seq, copies - 1);
    this.#count--;
    // Entries dealt with that never reached the top (the first message
    // waits for its keys, those after it are opened): rebuilt from the live.
    if (this.#heap.length > 2 * this.#live.size + 64) {
      this.#heap = [];
      for (const live of [...this.#live.keys()].sort((a, b) => a - b)) {
        this.#heap.push(live);
      }
    }
    return true;
  }

  /** The smallest seq being opened (Infinity when none). */
  min(): number {
    const heap = this.#heap;
    while (heap.length > 0 && !this.#live.has(heap[0]!)) this.#pop();
    // A seq dealt with and added again is in the heap twice: harmless.
    return heap.length > 0 ? heap[0]! : Infinity;
  }

  #push(seq: number): void {
    const heap = this.#heap;
    let at = heap.length;
    heap.push(seq);
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (heap[parent]! <= seq) break;
      heap[at] = heap[parent]!;
      at = parent;
    }
    heap[at] = seq;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]! < heap[left]!
        ? right
        : left;
      if (heap[child]! >= last) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = last;
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
