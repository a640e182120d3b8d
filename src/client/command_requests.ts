// This module is browser compatible.

/**
 * What a typed command asks of the server: the request it sends, or the
 * message a plain line becomes in the current conversation. Shared by the
 * terminal session and the web page, so both do the same for the same line.
 *
 * @module
 */

import {
  type ChatClient,
  newClientId,
  type Reply,
  type Request,
} from "./chat_client.ts";
import type { Command } from "./commands.ts";
import { type Conversation, PUBLIC } from "./conversations.ts";
import type { SentCommand } from "./render.ts";

/** The part of a client that commands use. */
export type Requester = Pick<ChatClient, "say" | "msg" | "gsay" | "request">;

/**
 * Sends a private message some other way than in the clear (end to end,
 * issue 17); `cid` is always given, so that a retry is recognised.
 */
export type PrivateSender = (
  to: string,
  text: string,
  cid: string,
) => Promise<Reply>;

/**
 * Sends a group message some other way than in the clear (end to end, issue
 * 17); `cid` is always given, so that a retry is recognised.
 */
export type GroupSender = (
  group: string,
  text: string,
  cid: string,
) => Promise<Reply>;

/** Sends the request for a command, or returns null for commands handled locally. */
export function perform(
  client: Requester,
  command: Command,
  cid?: string,
  sendPrivate: PrivateSender | null = null,
  sendGroup: GroupSender | null = null,
): Promise<Reply> | null {
  switch (command.kind) {
    case "say":
      return client.say(command.text, cid);
    case "msg":
      return sendPrivate === null
        ? client.msg(command.to, command.text, cid)
        : sendPrivate(command.to, command.text, cid ?? newClientId());
    case "gsay":
      return sendGroup === null
        ? client.gsay(command.group, command.text, cid)
        : sendGroup(command.group, command.text, cid ?? newClientId());
    case "list":
      return client.request({ t: "list" });
    case "groups":
      return client.request({ t: "groups" });
    case "create":
    case "join":
    case "leave":
      return client.request({ t: command.kind, group: command.group });
    case "members":
      return client.request(
        command.group === undefined
          ? { t: "members" }
          : { t: "members", group: command.group },
      );
    case "history":
      return client.request(historyRequest(command));
    case "away":
      return client.request(
        command.reason === undefined
          ? { t: "away" }
          : { t: "away", reason: command.reason },
      );
    case "file":
    case "groupfile":
    case "transfers":
    case "cancel":
    case "help":
    case "quit":
    case "query":
    case "me":
    case "ignore":
    case "unignore":
    case "trust":
    case "verify":
    case "invalid":
      return null;
    default: {
      const unreachable: never = command;
      return unreachable;
    }
  }
}

/**
 * The request for `/history`, or for its older page `page`: `limit` items
 * older than the one with id `before` (history_pages.ts).
 */
export function historyRequest(
  command: Extract<Command, { kind: "history" }>,
  page?: { before: number; limit: number },
): Request {
  const limit = page?.limit ?? command.limit;
  return {
    t: "history",
    ...(command.target === undefined ? {} : { target: command.target }),
    ...(limit === undefined ? {} : { limit }),
    ...(page === undefined ? {} : { before: page.before }),
  };
}

/** A plain line's text as a message to `conversation`. */
export function addressed(
  text: string,
  conversation: Conversation,
): SentCommand {
  switch (conversation.kind) {
    case "public":
      return { kind: "say", text };
    case "user":
      return { kind: "msg", to: conversation.name, text };
    case "group":
      return { kind: "gsay", group: conversation.name, text };
    default: {
      const unreachable: never = conversation;
      return unreachable;
    }
  }
}

/**
 * The conversation `command` writes to (a message or a file to a user or a
 * group, or a line to everyone), or null for a command that writes nowhere.
 */
export function writtenTo(command: Command): Conversation | null {
  switch (command.kind) {
    case "say":
      return PUBLIC;
    case "msg":
    case "file":
      return { kind: "user", name: command.to };
    case "gsay":
    case "groupfile":
      return { kind: "group", name: command.group };
    default:
      return null;
  }
}

/** What `/query` says. */
export function queryNote(conversation: Conversation): string {
  switch (conversation.kind) {
    case "public":
      return "Plain lines go to everyone again";
    case "user":
      return `Plain lines now go to ${conversation.name} (private); /query alone goes back to everyone`;
    case "group":
      return `Plain lines now go to group ${conversation.name}; /query alone goes back to everyone`;
    default: {
      const unreachable: never = conversation;
      return unreachable;
    }
  }
}
