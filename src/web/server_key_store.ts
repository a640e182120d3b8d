/// <reference lib="dom" />
/**
 * Where the page remembers server keys (server_pin.ts decides what a key
 * seen means): the IndexedDB database `chat-servers`, one record per
 * server (named by serverKeyName), holding its key's fingerprint. Not the
 * user's: "Forget me in this browser" (forget.ts) leaves it.
 *
 * One readwrite transaction reads a server's record and writes the first
 * key: IndexedDB runs the readwrite transactions of one store one at a time
 * across every tab of the origin, so two tabs meeting a new server at once
 * (one of them, say, through an impostor) cannot both take their key as
 * the first. localStorage, where the keys were kept before, cannot promise
 * that: each tab reads its own copy, which learns of another tab's write
 * some time later, and not even a Web Lock held over the read and write
 * waits for that (tests/e2e/browser_tabs_race_test.ts lost rounds so).
 * Browser only (IndexedDB).
 *
 * @module
 */

import { openDatabase } from "./open_database.ts";
import {
  decideServerKey,
  type KeyValueStore,
  type ServerKeyCheck,
  serverKeyName,
} from "./server_pin.ts";

/** The IndexedDB database of the server keys this browser remembers. */
export const SERVER_KEYS_DATABASE = "chat-servers";
const STORE = "keys";

/**
 * Checks `fingerprint` against the key remembered for the server at `host`,
 * and remembers it when none was. A key an older page remembered in
 * `legacy` (localStorage) counts, and is moved into the database then.
 *
 * @throws {Error} with a message for the user if the browser's storage
 *   cannot be used
 */
export async function checkServerKeyInBrowser(
  host: string,
  fingerprint: string,
  legacy: Pick<KeyValueStore, "getItem">,
): Promise<ServerKeyCheck> {
  const db = await openDatabase(SERVER_KEYS_DATABASE, STORE, "server keys");
  try {
    return await new Promise((resolve, reject) => {
      const name = serverKeyName(host);
      const tx = db.transaction(STORE, "readwrite", { durability: "strict" });
      const store = tx.objectStore(STORE);
      let check: ServerKeyCheck | null = null;
      const read = store.get(name);
      read.onsuccess = () => {
        const kept = typeof read.result === "string" ? read.result : null;
        const remembered = kept ?? legacy.getItem(name);
        check = decideServerKey(remembered, fingerprint);
        // In the same transaction as the read: no other tab's check of
        // this server runs in between.
        if (kept === null) store.put(remembered ?? fingerprint, name);
      };
      tx.oncomplete = () =>
        check === null
          ? reject(new Error("The server key check did not run"))
          : resolve(check);
      tx.onabort = () =>
        reject(
          new Error(
            `Cannot remember the server's key in this browser: ${tx.error}`,
          ),
        );
    });
  } finally {
    db.close();
  }
}
