/// <reference lib="dom" />
/**
 * Opening one of the page's IndexedDB databases that keep one object store
 * (e2e_store.ts, server_key_store.ts), the same way for each: at the
 * version its keeper asks for (1 unless said), the store made on first use,
 * and the connection closed when a newer page in another tab upgrades the
 * database. Browser only (IndexedDB).
 *
 * @module
 */

/**
 * Opens the database `name`, making its object store `store` on first use.
 * `what` says what it keeps, for the user: "server keys". A `version`
 * above the one a tab open has makes that tab's connection close (as this
 * one's does for a later version) and a page asking for a lower one fail:
 * a keeper raises it when pages before would misread or overwrite what it
 * keeps now.
 *
 * @throws {Error} with a message for the user if the browser's storage
 *   cannot be opened
 */
export function openDatabase(
  name: string,
  store: string,
  what: string,
  version = 1,
): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, version);
    open.onupgradeneeded = () => {
      // From an earlier version the store is there, its records kept.
      if (!open.result.objectStoreNames.contains(store)) {
        open.result.createObjectStore(store);
      }
    };
    open.onsuccess = () => {
      // A newer page (in another tab) upgrading the database goes first.
      open.result.onversionchange = () => open.result.close();
      resolve(open.result);
    };
    open.onerror = () =>
      reject(
        new Error(
          `Cannot open the browser's storage for ${what}: ${open.error}`,
        ),
      );
  });
}
