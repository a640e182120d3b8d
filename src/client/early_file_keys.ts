// This module is browser compatible.

/**
 * A file's key received end to end goes to the file's inbox, not on
 * screen, and the archive of opened secrets lets go of its bytes once the
 * inbox has them: what the terminal and the web page both do with an
 * opened secret, as soon as it is open and again when it is shown.
 *
 * @module
 */

import type { Opened } from "./e2e_sessions.ts";
import type { FileKeyInbox } from "./file_key_share.ts";

/**
 * Whether `opened` is a file's key, now kept by `inbox`; its archive is
 * told (`taken`), or every file key would stay in the end-to-end state
 * saved to disk until the archive's cap pushed it out.
 */
export function tookFileKey(inbox: FileKeyInbox, opened: Opened): boolean {
  if (
    opened.kind !== "secret" ||
    !inbox.deliver(opened.from, opened.label, opened.secret)
  ) return false;
  opened.taken();
  return true;
}

/**
 * What `opening` opens, a file's key in it kept by `inbox` as soon as it
 * is open, not in turn: its offer holds the lines after it until the key
 * is here, and in a cluster the offer may come first (PROTOCOL 11.10). A
 * key kept is nothing to show.
 */
export function keepingFileKeys(
  opening: Promise<Opened>,
  inbox: FileKeyInbox,
): Promise<Opened> {
  return opening.then((opened): Opened =>
    tookFileKey(inbox, opened) ? { kind: "refused", lines: [] } : opened
  );
}
