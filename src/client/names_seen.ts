/**
 * What a session learns of who and what is there from what the server
 * says: names and groups for tab completion, and identity keys by name as
 * /list tells them (/ignore is by key).
 *
 * @module
 */

import { isValidName, nameKey } from "../protocol/limits.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { FINGERPRINT_PATTERN } from "./known_hosts.ts";

export class NamesSeen {
  readonly users: Set<string>;
  readonly groups = new Set<string>();
  /** Identity keys by name key. */
  readonly #keys = new Map<string, string>();

  /** `self`: our own name, offered from the start. */
  constructor(self: string) {
    this.users = new Set([self]);
  }

  /** Takes the names in `message` for completion (see learnNames). */
  learnNames(message: ServerMessage): void {
    learnNames(message, this.users, this.groups);
  }

  /** Takes the identity keys a /list answer gives. */
  learnKeys(message: ServerMessage): void {
    if (message.t !== "users") return;
    for (const user of message.users) {
      if (
        user.fingerprint !== undefined &&
        FINGERPRINT_PATTERN.test(user.fingerprint)
      ) this.#keys.set(nameKey(user.name), user.fingerprint);
    }
  }

  /** The identity key last listed for `name`, or null. */
  keyOf(name: string): string | null {
    return this.#keys.get(nameKey(name)) ?? null;
  }
}

/**
 * Keeps the names tab completion offers in step with what the server says.
 * Only names the naming rule allows are taken: completion writes them into
 * the input line, unsanitised.
 */
export function learnNames(
  message: ServerMessage,
  users: Set<string>,
  groups: Set<string>,
): void {
  const user = (name: string) => {
    if (isValidName(name)) users.add(name);
  };
  const group = (name: string) => {
    if (isValidName(name)) groups.add(name);
  };
  switch (message.t) {
    case "users":
      for (const u of message.users) user(u.name);
      break;
    case "groups":
      for (const g of message.groups) group(g.name);
      break;
    case "presence":
      if (message.online) {
        user(message.name);
      } else {
        for (const user of users) {
          if (nameKey(user) === nameKey(message.name)) users.delete(user);
        }
      }
      break;
    case "membership":
    case "group":
      group(message.group);
      break;
    case "public":
    case "private":
      user(message.from);
      break;
    default:
      break;
  }
}
