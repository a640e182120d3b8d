/**
 * A store that keeps everything in memory, as `chat serve --data :memory:`
 * does: the server's core always has one (src/server/state.ts).
 */

import { nameKey } from "../../src/protocol/limits.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import type { Store } from "../../src/store/store.ts";

/**
 * An empty in-memory store that knows `users` (as if each had signed in
 * once): a group member must be a known user.
 */
export function memoryStore(...users: string[]): Store {
  const store = openStore(":memory:");
  for (const name of users) store.ensureUser(name, nameKey(name), 0);
  return store;
}
