// This module is browser compatible.

/**
 * What a session learns of who and what is there from what the server
 * says: names and groups for tab completion, and identity keys by name as
 * /list tells them (/ignore is by key); the web page's side lists alike
 * (`learnSideLists`), under the same bounds.
 *
 * @module
 */

import { isValidName, nameKey } from "../protocol/limits.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { FINGERPRINT_PATTERN } from "../crypto/keys.ts";

/**
 * How many user names, group names and listed keys a session keeps each. A
 * server can name any number of people and groups (a presence or
 * membership notice costs it a few bytes): kept without end, memory grew
 * with every name it invented. Past it the name seen longest ago goes
 * (completion no longer offers it; /list or a message brings it back).
 */
export const MAX_NAMES_SEEN = 10_000;

export class NamesSeen {
  /** By name key, as last spelled. */
  readonly users: Map<string, string>;
  readonly groups = new Set<string>();
  /** Identity keys by name key. */
  readonly #keys = new Map<string, string>();

  /** `self`: our own name, offered from the start. */
  constructor(self: string) {
    this.#self = nameKey(self);
    this.users = new Map([[this.#self, self]]);
  }

  readonly #self: string;

  /** Takes the names in `message` for completion (see learnNames). */
  learnNames(message: ServerMessage): void {
    learnNames(message, this.users, this.groups);
    // Our own name stays, whatever else goes.
    keepNewest(this.users, MAX_NAMES_SEEN, this.#self);
    keepNewest(this.groups, MAX_NAMES_SEEN);
  }

  /**
   * Takes a group this client made or joined: the server says no more of
   * it than "ok", and `/groupfile hahq` just after is answered "Did you mean
   * haha?" from what is known here (likely_name.ts).
   */
  learnGroup(group: string): void {
    const joined: ServerMessage = {
      t: "membership",
      group,
      name: this.#self,
      joined: true,
    };
    learnNames(joined, this.users, this.groups);
    keepNewest(this.groups, MAX_NAMES_SEEN);
  }

  /** Takes the identity keys a /list answer gives. */
  learnKeys(message: ServerMessage): void {
    if (message.t !== "users") return;
    for (const user of message.users) {
      if (
        user.fingerprint !== undefined &&
        FINGERPRINT_PATTERN.test(user.fingerprint)
      ) {
        const key = nameKey(user.name);
        this.#keys.delete(key);
        this.#keys.set(key, user.fingerprint);
      }
    }
    keepNewest(this.#keys, MAX_NAMES_SEEN);
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
  // Each name seen goes to the end: the newest are kept (keepNewest).
  const user = (name: string) => {
    if (!isValidName(name)) return;
    const key = nameKey(name);
    users.delete(key);
    users.set(key, name);
  };
  const group = (name: string) => {
    if (!isValidName(name)) return;
    groups.delete(name);
    groups.add(name);
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

/** The web page's side lists, by name key (web/main.ts). */
export interface SideLists {
  /** Who is online, as last spelled. */
  people: Map<string, string>;
  /** Why someone online is away, as the last /list said. */
  away: Map<string, string>;
  /** The groups heard of, and whether this user is in each. */
  groups: Map<string, { name: string; joined: boolean }>;
  /** Identity keys as /list says them (/ignore is by key). */
  keys: Map<string, string>;
}

/**
 * Keeps the page's side lists in step with `message`, each within
 * {@link MAX_NAMES_SEEN} as the terminal's names are (a server can name any
 * number of people and groups, and the page draws every one): past it the
 * one heard of longest ago goes, never `self`. Whether `message` was one
 * that changes them.
 */
export function learnSideLists(
  message: ServerMessage,
  lists: SideLists,
  self: string,
): boolean {
  const { people, away, groups, keys } = lists;
  // Each name heard of goes to the end: the newest are kept.
  const group = (name: string, joined: boolean) => {
    groups.delete(nameKey(name));
    groups.set(nameKey(name), { name, joined });
  };
  switch (message.t) {
    case "users":
      people.clear();
      away.clear();
      for (const u of message.users) {
        people.set(nameKey(u.name), u.name);
        if (u.away !== undefined) away.set(nameKey(u.name), u.away);
        if (
          u.fingerprint !== undefined && FINGERPRINT_PATTERN.test(u.fingerprint)
        ) {
          keys.delete(nameKey(u.name));
          keys.set(nameKey(u.name), u.fingerprint);
        }
      }
      break;
    case "presence":
      people.delete(nameKey(message.name));
      if (message.online) people.set(nameKey(message.name), message.name);
      away.delete(nameKey(message.name));
      break;
    case "groups":
      // The server marks the groups this user is in (a reloaded page
      // knows them only from here); its word is the newest.
      for (const g of message.groups) group(g.name, g.joined === true);
      break;
    case "membership":
      if (nameKey(message.name) === nameKey(self)) {
        group(message.group, message.joined);
      } else if (!groups.has(nameKey(message.group))) {
        group(message.group, false);
      }
      break;
    case "group":
      group(message.group, true);
      break;
    default:
      return false;
  }
  keepNewest(people, MAX_NAMES_SEEN, nameKey(self));
  keepNewest(away, MAX_NAMES_SEEN);
  keepNewest(groups, MAX_NAMES_SEEN);
  keepNewest(keys, MAX_NAMES_SEEN);
  return true;
}

/**
 * Drops the oldest of `seen` (in order of insertion) past `max`, except
 * `keep`.
 */
function keepNewest(
  seen: Map<string, unknown> | Set<string>,
  max: number,
  keep?: string,
): void {
  for (const key of seen.keys()) {
    if (seen.size <= max) return;
    if (key !== keep) seen.delete(key);
  }
}
