// This module is browser compatible.

/**
 * Where a row of the web page's log shows. The page shows one conversation
 * at a time (the public room, a person, a group), as web chats do, or All:
 * every row in the order it came, the terminal's one log (older messages
 * loaded by scrolling back in the order they were said: row_order.ts). A
 * row belongs to the conversation it is a message of, and to the view a
 * command was typed in, so that what a command answers shows where the
 * user looks; a line about the whole connection (signed in, disconnected, a
 * key warning) shows in every view. The page (main.ts) hides the rows of
 * other views.
 *
 * @module
 */

import type { Command } from "../client/commands.ts";
import {
  type Conversation,
  conversationKey,
  conversationOf,
  PUBLIC,
} from "../client/conversations.ts";
import type { FileTarget, SessionEvent } from "../client/session_events.ts";
import type { FileOfferNotice } from "../protocol/messages.ts";

/** The view that shows every row. */
export const ALL_VIEW = "all";

/**
 * The views a row shows in besides All, by conversation key
 * (conversations.ts `conversationKey`), or ALL_VIEW for a row of All alone
 * (a command typed there). None: every view.
 */
export type Places = readonly string[];

/** Whether a row with `places` shows in the view with key `view`. */
export function shownIn(places: Places, view: string): boolean {
  return view === ALL_VIEW || places.length === 0 || places.includes(view);
}

/**
 * Where the row of `event` shows, for the user `self`; `typedIn`: the view
 * the command it answers was typed in, null for what came unasked.
 */
export function eventPlaces(
  event: SessionEvent,
  self: string,
  typedIn: string | null,
): Places {
  const own = ownPlaces(event, self);
  if (typedIn === null || own.includes(typedIn)) return own;
  // What a command said shows where it was typed (an error in the view it
  // was typed in, /history jojo typed in the room, /msg bob typed in
  // jojo's conversation), besides its own conversation if it has one.
  return [...own, typedIn];
}

/** The view keys of `event`'s own conversations; none: every view. */
function ownPlaces(event: SessionEvent, self: string): Places {
  switch (event.type) {
    case "incoming": {
      const { message } = event;
      const conversation = conversationOf(message, self);
      if (conversation !== null) return [conversationKey(conversation)];
      // A join or leave: the room's news, and of the conversation with them.
      if (message.t === "presence") {
        return [
          conversationKey(PUBLIC),
          conversationKey({ kind: "user", name: message.name }),
        ];
      }
      if (message.t === "membership") {
        return [conversationKey({ kind: "group", name: message.group })];
      }
      return [];
    }
    case "unarrived":
      return [
        conversationKey(
          event.group === null
            ? { kind: "user", name: event.from }
            : { kind: "group", name: event.group },
        ),
      ];
    case "reply": {
      const conversation = chatConversation(event.command);
      return conversation === null ? [] : [conversationKey(conversation)];
    }
    case "file_offering":
    case "file_sent":
      return [fileTargetPlace(event.target)];
    case "file_offer":
    case "file_received":
    case "file_failed":
      return [offerPlace(event.offer)];
    case "notice":
    case "error":
    case "help":
    case "queued":
    case "connection":
    case "file_declined":
    case "file_progress":
      return [];
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
}

/** The conversation a chat command says something in; null for the rest. */
function chatConversation(command: Command): Conversation | null {
  switch (command.kind) {
    case "say":
      return PUBLIC;
    case "msg":
      return { kind: "user", name: command.to };
    case "gsay":
      return { kind: "group", name: command.group };
    default:
      return null;
  }
}

/** The view of a file sent to `target`. */
export function fileTargetPlace(target: FileTarget): string {
  return conversationKey(
    "to" in target
      ? { kind: "user", name: target.to }
      : { kind: "group", name: target.group },
  );
}

/** The view of a file offered to this user. */
export function offerPlace(offer: FileOfferNotice): string {
  return conversationKey(
    offer.group === undefined
      ? { kind: "user", name: offer.from }
      : { kind: "group", name: offer.group },
  );
}
