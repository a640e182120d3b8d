// This module is browser compatible.

/**
 * `/ignore` in the browser: the terminal's IgnoreList (ignore_list.ts), its
 * entries kept in the same line format in local storage instead of a file.
 *
 * @module
 */

import {
  addIgnoreEntry,
  type IgnoreEntry,
  IgnoreList,
  parseIgnoreFile,
  removeIgnoreEntries,
} from "../client/ignore_list.ts";
import type { KeyValueStore } from "./server_pin.ts";

export const IGNORED_KEY = "chat.ignored";

export class IgnoreStore {
  #list: IgnoreList | null = null;

  constructor(readonly store: KeyValueStore) {}

  /** The list for the server whose key is `server`. */
  list(server: string): IgnoreList {
    if (this.#list === null || this.#list.server !== server) {
      this.#list = new IgnoreList(server, parseIgnoreFile(this.#text()));
    }
    return this.#list;
  }

  /** Ignores a user of `server` from now on. */
  add(server: string, entry: Omit<IgnoreEntry, "server">): IgnoreEntry {
    const full = this.list(server).add(entry);
    this.store.setItem(IGNORED_KEY, addIgnoreEntry(this.#text(), full));
    return full;
  }

  /** Shows `name` (or its key) again; returns how many entries went. */
  remove(server: string, name: string, fingerprint: string | null): number {
    const removed = this.list(server).remove(name, fingerprint);
    this.store.setItem(
      IGNORED_KEY,
      removeIgnoreEntries(this.#text(), server, name, fingerprint),
    );
    return removed;
  }

  #text(): string {
    return this.store.getItem(IGNORED_KEY) ?? "";
  }
}
