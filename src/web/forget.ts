/// <reference lib="dom" />
/**
 * "Forget me in this browser": on a computer others use too, whoever sits at
 * the browser next would otherwise find the last user's name filled in and,
 * in IndexedDB, their identity key (the name is bound to it), end-to-end keys
 * and archive of private messages (/history): enough to sign in as them and
 * read what they wrote. This deletes what the page keeps of its user. The
 * server keys the browser remembers (server_key_store.ts) stay: they are the
 * servers', not the user's, and are what notices an impostor server. Browser
 * only (IndexedDB).
 *
 * @module
 */

import { E2E_DATABASE } from "./e2e_store.ts";
import { IDENTITY_DATABASE } from "./identity_store.ts";

/** The IndexedDB databases that hold what is the user's. */
export const PERSONAL_DATABASES: readonly string[] = [
  IDENTITY_DATABASE,
  E2E_DATABASE,
];

/**
 * Deletes the user's databases and the local storage entries `keys`.
 * `blocked` is called while another tab of the page holds a database open
 * (its connections close on their own when asked; an old page's may not):
 * the deletion then waits for it.
 */
export async function forgetUser(
  storage: Pick<Storage, "removeItem">,
  keys: readonly string[],
  blocked: () => void,
): Promise<void> {
  for (const key of keys) storage.removeItem(key);
  for (const name of PERSONAL_DATABASES) {
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () =>
        reject(
          new Error(`Cannot delete the browser's '${name}': ${request.error}`),
        );
      request.onblocked = blocked;
    });
  }
}
