/**
 * The store's last sighting of each signed-in name, written now and then
 * (`sightingEveryMs`, a minute) for all of them in one unit of work. A name
 * is otherwise seen at its sign-in and its end; a server that crashed wrote
 * no ends, so a name signed in for longer than `comebackWithinMs` was last
 * seen too long before the restart to come back free (comebacks.ts), as it
 * does after a clean stop. Now a crash leaves each name seen at most this
 * long before it.
 */

import type { ServerState } from "./state.ts";
import type { WritePath } from "./write_path.ts";

/** Starts writing sightings every `everyMs`; returns what stops it. */
export function recordSightings(
  writes: WritePath,
  state: ServerState,
  everyMs: number,
): { stop(): void } {
  const timer = setInterval(() => {
    const now = Date.now();
    // A store that cannot be written now: the next round tries again.
    writes.commit(() => {
      for (const session of state.sessions()) {
        state.store.touchSeen(session.nameKey, now);
      }
    }, () => undefined);
  }, everyMs);
  return { stop: () => clearInterval(timer) };
}
