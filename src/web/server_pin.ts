// This module is browser compatible.

/**
 * The web page's memory of server keys: what `known_hosts` is to the
 * terminal client, kept in the browser's IndexedDB (server_key_store.ts;
 * localStorage before, hence `KeyValueStore`). The first key a
 * server presents is remembered; a different one later is refused before
 * anything is sent (docs/PROTOCOL.md 2.8).
 *
 * @module
 */

/** The part of `Storage` (localStorage) the page's stores need. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export type ServerKeyCheck =
  /** Never seen: now remembered; the user should compare the fingerprint. */
  | { kind: "new" }
  | { kind: "known" }
  /** Another key than the remembered one: refuse, say so, keep the old. */
  | { kind: "changed"; remembered: string };

const PREFIX = "chat.server-key.";

/** The storage key for the server at `host` ("name:port", as in a URL). */
export function serverKeyName(host: string): string {
  return PREFIX + host.toLowerCase();
}

/**
 * What `fingerprint` seen for a server means, given the key `remembered`
 * for it (null: none); with none, `fingerprint` is to be remembered.
 */
export function decideServerKey(
  remembered: string | null,
  fingerprint: string,
): ServerKeyCheck {
  if (remembered === null) return { kind: "new" };
  return remembered === fingerprint
    ? { kind: "known" }
    : { kind: "changed", remembered };
}

/** What the page says when a server's key changed. */
export function changedServerKeyMessage(
  host: string,
  remembered: string,
  presented: string,
): string {
  return `ERROR: The server at ${host} presented the key ${presented}, but this browser knows it as ${remembered}. ` +
    `Someone may be intercepting the connection, or the server got a new key. Nothing was sent. ` +
    `Ask the host which fingerprint 'chat serve' printed; only if the key really changed, clear this site's data in the browser and reload`;
}
