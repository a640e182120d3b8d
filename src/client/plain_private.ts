// This module is browser compatible.

/**
 * A plain `private` (not end to end) in a conversation with someone whose
 * identity key the client knows: neither side's client sends one in the
 * clear once it knows the other's key (e2e_sessions.ts: a `no_keys` answer
 * about a known key sends nothing), so only the server could have written
 * it, and shown it would pass for theirs (README, Security; PROTOCOL 11.7).
 *
 * @module
 */

import type { ServerMessage } from "../protocol/messages.ts";

/**
 * The error that refuses `message`, or null when it is no such message:
 * not a plain `private`, or with someone not known to use end-to-end keys
 * (`usesE2e`, by name).
 */
export function plainPrivateRefusal(
  message: ServerMessage,
  usesE2e: (name: string) => boolean,
): string | null {
  if (message.t !== "private") return null;
  // One the viewer sent (history) names the other side in `to`.
  const other = message.to ?? message.from;
  if (!usesE2e(other)) return null;
  return `ERROR: A private message ${
    message.to === undefined ? "from" : "to"
  } ${other} came without end-to-end encryption, though ${other} uses end-to-end keys: the server may have written it, and it is not shown`;
}
