/**
 * Sessions whose identity key no longer holds their name: `chat admin
 * release NAME` ran on the database beside this server (its own
 * connection, main.ts) while the old key stayed signed in. Such a session
 * must do nothing more under the name: a bundle it published would be
 * handed out as the name's keys, and whatever it sent would pass for the
 * next owner's. The server ends it: at once when it tries to publish keys
 * (connection_loop.ts), and within a second otherwise, when the store says
 * another process wrote to it (`Store.changedElsewhere`).
 *
 * A single server's: in a cluster names are bound in its bucket, and a node
 * takes the name from the old key when it next signs in there.
 */

import type { Store } from "../store/store.ts";
import type { Session } from "./session.ts";

/** Why such a session is ended (its `bye`: "Disconnected by the server: <why>."). */
export const KEY_RELEASED =
  "the operator released your name from this identity key";

/** How often the store is asked whether another process wrote to it. */
export const RELEASE_CHECK_MS = 1000;

/** Whether `session` proved a key that its name is no longer bound to. */
export function keyReleased(store: Store, session: Session): boolean {
  if (session.fingerprint === null) return false;
  return store.getUser(session.nameKey)?.fingerprint !== session.fingerprint;
}

/**
 * Every `everyMs`, if another process wrote to `store` since the last look,
 * calls `end` for each of `sessions()` whose key was released. Returns
 * what stops it.
 */
export function watchReleases(
  store: Store,
  sessions: () => Iterable<Session>,
  end: (session: Session) => void,
  everyMs = RELEASE_CHECK_MS,
): { stop(): void } {
  let seen = store.changedElsewhere();
  // A store that cannot be read (a disk gone, a database locked for long)
  // must not end the server from a timer: said once, tried again next time.
  let failing = false;
  const timer = setInterval(() => {
    try {
      const now = store.changedElsewhere();
      if (now === seen) return;
      // Collected first: ending a session changes the list.
      const released = [...sessions()].filter((session) =>
        keyReleased(store, session)
      );
      seen = now;
      failing = false;
      for (const session of released) end(session);
    } catch (error) {
      if (failing) return;
      failing = true;
      console.error(
        `chat: could not check the store for released names (tried again every ${everyMs} ms): ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }, everyMs);
  return { stop: () => clearInterval(timer) };
}
