/// <reference lib="dom" />
/**
 * Opening one of the page's IndexedDB databases that keep one object store
 * (e2e_store.ts, server_key_store.ts), the same way for each: version 1,
 * the store made on first use, and the connection closed when a newer page
 * in another tab upgrades the database. Browser only (IndexedDB).
 *
 * @module
 */

/**
 * Opens the database `name`, making its object store `store` on first use.
 * `what` says what it keeps, for the user: "server keys".
 *
 * @throws {Error} with a message for the user if the browser's storage
 *   cannot be opened
 */
export function openDatabase(
  name: string,
  store: string,
  what: string,
): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(store);
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
