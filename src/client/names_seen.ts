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
  /** By name key, as last spelled. */
  readonly users: Map<string, string>;
  readonly groups = new Set<string>();
  /** Identity keys by name key. */
  readonly #keys = new Map<string, string>();

  /** `self`: our own name, offered from the start. */
  constructor(self: string) {
    this.users = new Map([[nameKey(self), self]]);
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
 * Keeps the names tab completion offers in step with what the server says:
 * `users` by name key, as last spelled. Only names the naming rule allows
 * are taken: completion writes them into the input line, unsanitised. Each
 * name costs one lookup: a server's presence notices once made every
 * departure a pass over every name seen (20,000 names joining and leaving
 * took 16 s of the client's one thread).
 */
export function learnNames(
  message: ServerMessage,
  users: Map<string, string>,
  groups: Set<string>,
): void {
  const user = (name: string) => {
    if (isValidName(name)) users.set(nameKey(name), name);
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
      if (message.online) user(message.name);
      else users.delete(nameKey(message.name));
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
