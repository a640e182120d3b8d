// This module is browser compatible.

/**
 * Where a plain line goes, and what was missed elsewhere. `/query jojo` or
 * `/query #haha` makes plain lines go to that person or group until `/query`
 * alone returns to the public room; the prompt shows the target
 * (`[#haha] sophia> `) and, while messages wait in other conversations, how
 * many (`(jojo 2, #dev 1) `), cleared when you `/query` one of them or
 * write to it.
 *
 * @module
 */

import { isValidName, NAME_RULE, nameKey } from "../protocol/limits.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";

/** A place messages are said in. */
export type Conversation =
  | { kind: "public" }
  | { kind: "user"; name: string }
  | { kind: "group"; name: string };

export const PUBLIC: Conversation = { kind: "public" };

/**
 * What `/query`'s argument names: nothing for the public room, `#name` a
 * group, any other name a user. Throws a TypeError with a message for the
 * user when the name is not one.
 */
export function parseQueryTarget(argument: string): Conversation {
  const word = argument.trim();
  if (word === "") return PUBLIC;
  const group = word.startsWith("#");
  const name = group ? word.slice(1) : word;
  if (!isValidName(name)) {
    throw new TypeError(
      `ERROR: Invalid ${group ? "group name" : "username"} '${
        sanitizeForTerminal(name)
      }': ${NAME_RULE}`,
    );
  }
  return group ? { kind: "group", name } : { kind: "user", name };
}

/** How a conversation is named to the user: `#haha`, `jojo`, or `public`. */
export function conversationLabel(conversation: Conversation): string {
  switch (conversation.kind) {
    case "public":
      return "public";
    case "user":
      return conversation.name;
    case "group":
      return `#${conversation.name}`;
    default: {
      const unreachable: never = conversation;
      throw new TypeError(`Unknown conversation: ${unreachable}`);
    }
  }
}

/** One key per conversation: names compare ignoring case. */
export function conversationKey(conversation: Conversation): string {
  switch (conversation.kind) {
    case "public":
      return "public";
    case "user":
      return `@${nameKey(conversation.name)}`;
    case "group":
      return `#${nameKey(conversation.name)}`;
    default: {
      const unreachable: never = conversation;
      throw new TypeError(`Unknown conversation: ${unreachable}`);
    }
  }
}

/**
 * The conversation a chat message belongs to for the user `self`, or null
 * for a message that is not chat. A private message in history that `self`
 * sent belongs to the conversation with its recipient.
 */
export function conversationOf(
  message: ServerMessage,
  self: string,
): Conversation | null {
  switch (message.t) {
    case "public":
      return PUBLIC;
    case "private": {
      const other = message.to !== undefined &&
          nameKey(message.from) === nameKey(self)
        ? message.to
        : message.from;
      return { kind: "user", name: other };
    }
    case "group":
      return { kind: "group", name: message.group };
    default:
      return null;
  }
}

/** How many unread conversations the prompt names before `+N more`. */
const SHOWN_UNREAD = 3;

/**
 * How many conversations are counted unread at once. A server can invent any
 * number of senders and groups, one message each: with every one of them
 * counted, memory grew without bound and each prompt (redrawn at each
 * message and keystroke) went over all of them, so 20,000 invented senders
 * took 12 s of the client's one thread where one sender took 2 s. Past it a
 * message in another conversation is shown but not counted.
 */
export const MAX_UNREAD_CONVERSATIONS = 1000;

/** The current target and the unread counts of the others. */
export class Conversations {
  #current: Conversation = PUBLIC;
  /** Key -> the conversation and its unread count, in order of first unread. */
  #unread = new Map<string, { conversation: Conversation; count: number }>();

  get current(): Conversation {
    return this.#current;
  }

  /** Makes `conversation` the target of plain lines; its unread count is cleared. */
  setCurrent(conversation: Conversation): void {
    this.#current = conversation;
    this.#unread.delete(conversationKey(conversation));
  }

  /**
   * The server spells `conversation`'s name so (`/query BOB` for Bob): the
   * current one takes that spelling, for the prompt, if it is still the one.
   */
  spelled(conversation: Conversation): void {
    if (conversationKey(conversation) === conversationKey(this.#current)) {
      this.#current = conversation;
    }
  }

  /**
   * You wrote to `conversation` (`/msg jojo ...`, `/group haha ...`, a file):
   * what waited there has been read, so its count goes from the prompt.
   * Returns whether the count changed.
   */
  wrote(conversation: Conversation): boolean {
    return this.#unread.delete(conversationKey(conversation));
  }

  /**
   * A live message arrived in `conversation`: counted unless it is the
   * current one, or a new one past {@link MAX_UNREAD_CONVERSATIONS}.
   * Returns whether the count changed.
   */
  noteIncoming(conversation: Conversation): boolean {
    const key = conversationKey(conversation);
    if (key === conversationKey(this.#current)) return false;
    const entry = this.#unread.get(key);
    if (entry !== undefined) entry.count++;
    else if (this.#unread.size >= MAX_UNREAD_CONVERSATIONS) return false;
    else this.#unread.set(key, { conversation, count: 1 });
    return true;
  }

  /** Unread counts, oldest first. */
  unread(): Array<{ conversation: Conversation; count: number }> {
    return [...this.#unread.values()].map((e) => ({ ...e }));
  }

  /**
   * The prompt for `self`: `sophia> ` in the public room, `[#haha] sophia> `
   * or `[jojo] sophia> ` elsewhere, after the unread counts if any
   * (`(jojo 2, #dev 1) `).
   */
  prompt(self: string): string {
    // The first few alone: the prompt is redrawn at every keystroke.
    const shown: string[] = [];
    for (const e of this.#unread.values()) {
      if (shown.length === SHOWN_UNREAD) break;
      shown.push(`${conversationLabel(e.conversation)} ${e.count}`);
    }
    if (this.#unread.size > SHOWN_UNREAD) {
      shown.push(`+${this.#unread.size - SHOWN_UNREAD} more`);
    }
    const counts = shown.length === 0 ? "" : `(${shown.join(", ")}) `;
    const target = this.#current.kind === "public"
      ? ""
      : `[${conversationLabel(this.#current)}] `;
    // Redrawn at every keystroke: nothing in it may move the cursor or
    // speak to the terminal (the names are checked as they arrive, too).
    return sanitizeForTerminal(`${counts}${target}${self}> `);
  }
}
