// This module is browser compatible.

/**
 * A read, a decision on what was read and a write of a record the tabs of
 * this page share (IndexedDB and localStorage are per origin, not per tab),
 * done by one tab at a time: two at once would each decide on the old
 * record, and the later write would drop what the other decided, or each
 * would take its own key as the first seen for one name. The Web Locks API
 * gives the exclusion across tabs; the lock is held for that work only,
 * never across a network wait.
 *
 * @module
 */

/** The part of the Web Locks API (`navigator.locks`) this needs. */
interface WebLocks {
  request<T>(
    name: string,
    options: { mode: "exclusive" },
    callback: () => T | Promise<T>,
  ): Promise<T>;
}

/**
 * Runs `work` holding the Web Lock `name`, exclusively among the tabs and
 * workers of this origin; waits while another holds it.
 *
 * Where the browser has no `navigator.locks` (an old browser; it exists
 * wherever WebCrypto's `subtle`, which the page needs, does: both need a
 * secure context), `work` runs at once: tabs then exclude one another no
 * more than before the lock, and each tab still runs its own changes one
 * at a time.
 */
export async function exclusivelyAcrossTabs<T>(
  name: string,
  work: () => T | Promise<T>,
): Promise<T> {
  // Typed here: Deno's own types (the terminal's checks) have no locks.
  const locks = (globalThis.navigator as { locks?: WebLocks } | undefined)
    ?.locks;
  if (locks === undefined) return await work();
  return await locks.request(name, { mode: "exclusive" }, () => work());
}
