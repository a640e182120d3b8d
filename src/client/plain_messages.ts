// This module is browser compatible.

/**
 * Plain (not end to end) chat messages from someone whose identity key the
 * client knows, which only the server may have written:
 *
 * - a `private` in a conversation with them: neither side's client sends
 *   one in the clear once it knows the other's key (e2e_sessions.ts: a
 *   `no_keys` answer about a known key sends nothing), so it is refused;
 *   shown, it would pass for theirs (README, Security; PROTOCOL 11.7);
 * - a `group` from them: their client sends one in the clear only when the
 *   server lists a member without keys (group_sessions.ts), which the reader
 *   cannot check, so it is shown with a warning that the host can read it
 *   and could have written it (PROTOCOL 11.11).
 *
 * @module
 */

import type { ServerMessage } from "../protocol/messages.ts";
import { nameKey } from "../protocol/limits.ts";
import { formatTimestamp } from "./render.ts";

/**
 * The error that refuses `message`, or null when it is no such message:
 * not a plain `private`, or with someone not known to use end-to-end keys
 * (`usesE2e`, by name). It names them, says when it was sent if it is
 * history, and what to do: honestly, such a message came from a client
 * without its user's end-to-end keys (an older one, one that lost them),
 * whose user was told it was sent.
 */
export function plainPrivateRefusal(
  message: ServerMessage,
  usesE2e: (name: string) => boolean,
): string | null {
  if (message.t !== "private") return null;
  // One the viewer sent (history) names the other side in `to`.
  const other = plainPrivateOther(message);
  if (!usesE2e(other)) return null;
  const when = message.history === true
    ? ` (sent ${formatTimestamp(message.ts)})`
    : "";
  const remedy = message.to === undefined
    ? `If ${other} did send it, it came from a client without their end-to-end keys: ask ${other} to send it again from one with them`
    : "If you did send it, it went from a client without your end-to-end keys";
  return `ERROR: A private message ${
    message.to === undefined ? "from" : "to"
  } ${other}${when} came without end-to-end encryption, though ${other} uses end-to-end keys: the server may have written it, and it is not shown. ${remedy}`;
}

/**
 * The other side of a plain private message: `to` on one the viewer sent
 * (history), else `from`.
 */
export function plainPrivateOther(
  message: Extract<ServerMessage, { t: "private" }>,
): string {
  return message.to ?? message.from;
}

/**
 * The one error that stands, in a `/history`, for the `n` (two or more)
 * plain private messages with `other` refused there, sent from `first` to
 * `last` (epoch ms, the server's): how many, when, why, and what the user
 * can do, where one error a line would fill the screen.
 */
export function plainHistoryRefusal(
  other: string,
  n: number,
  first: number,
  last: number,
): string {
  return `ERROR: ${n} private messages with ${other} in this history came without end-to-end encryption, though ${other} uses end-to-end keys: the server may have written them, and they are not shown (sent ${
    formatTimestamp(first)
  } to ${
    formatTimestamp(last)
  }). A conversation that began before both of you had end-to-end keys began this way: ask ${other} again for what you need of it`;
}

/**
 * Different groups and senders remembered by one PlainGroupWarnings; past
 * it (a hostile server inventing names) the memory starts again, at worst
 * repeating a warning.
 */
const MAX_WARNED = 10_000;

/**
 * The warnings after plain `group` messages from members known to use
 * end-to-end keys: one for each group and sender, at their first such
 * message, covering the ones after it. A group with a member without keys
 * gets every message of every member in the clear (group_sessions.ts), so a
 * warning after each would bury the conversation, live and in `/history`.
 */
export class PlainGroupWarnings {
  readonly #warned = new Set<string>();

  /**
   * The warning to show after `message`, or null: it is not a plain
   * `group` from someone known to use end-to-end keys (`usesE2e`, by
   * name), or this group and sender were warned of already.
   */
  after(
    message: ServerMessage,
    usesE2e: (name: string) => boolean,
  ): string | null {
    if (message.t !== "group" || !usesE2e(message.from)) return null;
    const key = JSON.stringify([nameKey(message.group), nameKey(message.from)]);
    if (this.#warned.has(key)) return null;
    if (this.#warned.size >= MAX_WARNED) this.#warned.clear();
    this.#warned.add(key);
    return `WARNING: That message from ${message.from} in ${message.group} came without end-to-end encryption, though ${message.from} uses end-to-end keys: the host of the server can read it, and could have written it or any plain one from ${message.from} in ${message.group} after it (said once)`;
  }
}
