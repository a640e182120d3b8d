// This module is browser compatible.

/**
 * `/ignore` in the browser: the terminal's IgnoreList (ignore_list.ts), its
 * entries kept in the same line format in a storage port (the record
 * "ignored" of the page's IndexedDB, web/e2e_store.ts) instead of a file.
 *
 * A change reads the record again, changes it and writes it, alone among
 * the tabs of the page (the slot's `exclusively`, a Web Lock): two tabs
 * ignoring someone at once would otherwise each write the list they read,
 * the later dropping the other's entry. The list was kept in localStorage
 * before, where even under a lock a tab may read its own stale copy of
 * another tab's write; what is left there is moved over on load.
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
import { memorySlot, type TextSlot } from "../client/text_slot.ts";
import type { KeyValueStore } from "./server_pin.ts";

/** Where an older page kept the list, in localStorage. */
export const IGNORED_KEY = "chat.ignored";

export class IgnoreStore {
  #list: IgnoreList | null = null;
  /** The list as last read or written. */
  #text: string;

  private constructor(readonly slot: TextSlot, text: string) {
    this.#text = text;
  }

  /**
   * The list kept in `slot`; when none is, the one an older page left in
   * `legacy` (localStorage), moved into `slot`.
   *
   * @throws {Error} with a message for the user if the slot cannot be read
   *   or written
   */
  static async load(
    slot: TextSlot,
    legacy: KeyValueStore & Pick<Storage, "removeItem">,
  ): Promise<IgnoreStore> {
    const store = new IgnoreStore(slot, await slot.read() ?? "");
    const left = legacy.getItem(IGNORED_KEY);
    if (left === null) return store;
    await store.#exclusively(async () => {
      const kept = await slot.read();
      if (kept === null) await slot.write(left);
      store.#text = kept ?? left;
    });
    legacy.removeItem(IGNORED_KEY);
    return store;
  }

  /** A list kept in memory only, until the kept one is loaded. */
  static inMemory(): IgnoreStore {
    return new IgnoreStore(memorySlot(), "");
  }

  /** The list for the server whose key is `server`. */
  list(server: string): IgnoreList {
    if (this.#list === null || this.#list.server !== server) {
      this.#list = new IgnoreList(server, parseIgnoreFile(this.#text));
    }
    return this.#list;
  }

  /**
   * Ignores a user of `server` from now on.
   *
   * @throws {Error} with a message for the user if it cannot be kept
   */
  add(
    server: string,
    entry: Omit<IgnoreEntry, "server">,
  ): Promise<IgnoreEntry> {
    return this.#change(server, (list, text) => {
      const full = list.add(entry);
      return { result: full, text: addIgnoreEntry(text, full) };
    });
  }

  /**
   * Shows `name` (or its key) again; returns how many entries went.
   *
   * @throws {Error} with a message for the user if it cannot be kept
   */
  remove(
    server: string,
    name: string,
    fingerprint: string | null,
  ): Promise<number> {
    return this.#change(server, (list, text) => ({
      result: list.remove(name, fingerprint),
      text: removeIgnoreEntries(text, server, name, fingerprint),
    }));
  }

  /**
   * Applies `change` to the list as kept now (with what other tabs changed
   * since this one read it) and writes the result, alone among the tabs.
   */
  #change<T>(
    server: string,
    change: (list: IgnoreList, text: string) => { result: T; text: string },
  ): Promise<T> {
    return this.#exclusively(async () => {
      this.#text = await this.slot.read() ?? "";
      this.#list = null;
      const changed = change(this.list(server), this.#text);
      try {
        await this.slot.write(changed.text);
      } catch (error) {
        this.#list = null;
        throw new Error(
          `Cannot keep the ignore list ${this.slot.where}: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
      }
      this.#text = changed.text;
      return changed.result;
    });
  }

  #exclusively<T>(work: () => Promise<T>): Promise<T> {
    return this.slot.exclusively === undefined
      ? work()
      : this.slot.exclusively(work);
  }
}
