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
 *   and could have written it (PROTOCOL 11.11);
 * - a `private` or `group` from a name not known by a key that reads like
 *   one known by a key (`a1ice`, alice known): an honest server lets nobody
 *   but alice's key take such a name (PROTOCOL 8), and a plain message
 *   carries no key to check, so the host may be posing as alice, and is
 *   warned of before the message (PlainLookalikeWarnings).
 *
 * @module
 */

import type { ServerMessage } from "../protocol/messages.ts";
import { nameKey } from "../protocol/limits.ts";
import { formatTimestamp } from "./render.ts";

/**
 * The error that refuses `message`, or null when it is no such message:
 * not a plain `private`, or with someone not known to use end-to-end keys
 * (`usesE2e`, by name; the viewer, `self`, when this client has its own).
 * It names them, says when it was sent if it is history, and what to do:
 * honestly, such a message came from a client without its user's
 * end-to-end keys (an older one, one that lost them), whose user was told
 * it was sent.
 */
export function plainPrivateRefusal(
  message: ServerMessage,
  usesE2e: (name: string) => boolean,
  self = "",
): string | null {
  if (message.t !== "private") return null;
  const when = message.history === true
    ? ` (sent ${formatTimestamp(message.ts)})`
    : "";
  // `to` names the other side of one the viewer sent (history); under
  // another sender's name it is a conversation of two others, which no
  // honest server hands the viewer, shown "from alice to carol": alice's
  // name on the host's words, whoever carol is.
  const from = message.from;
  const fromSelf = self !== "" && nameKey(from) === nameKey(self);
  if (message.to !== undefined && self !== "" && !fromSelf && usesE2e(from)) {
    return `ERROR: A private message from ${from} to ${message.to}${when} came without end-to-end encryption, though ${from} uses end-to-end keys: the server may have written it, and it is not shown`;
  }
  const other = plainPrivateOther(message);
  if (!usesE2e(other)) return null;
  // A note to oneself, which this client sends end to end: shown, the
  // host's words would pass for the user's own.
  if (fromSelf && nameKey(other) === nameKey(self)) {
    return `ERROR: A private message from you to yourself${when} came without end-to-end encryption, though you use end-to-end keys: the server may have written it, and it is not shown. If you did send it, it went from a client without your end-to-end keys`;
  }
  const remedy = message.to === undefined
    ? `If ${other} did send it, it came from a client without their end-to-end keys: ask ${other} to send it again from one with them`
    : "If you did send it, it went from a client without your end-to-end keys";
  return `ERROR: A private message ${
    message.to === undefined ? "from" : "to"
  } ${other}${when} came without end-to-end encryption, though ${other} uses end-to-end keys: the server may have written it, and it is not shown. ${remedy}`;
}

/**
 * Whom the refusal of the plain private `message` is said with others about
 * in a history (history_count.ts `emitPlainRefusal`): its other side, or
 * null for one under another sender's name with a `to` (a conversation of
 * two others, which no honest server sends), said alone.
 */
export function plainRefusedWith(
  message: Extract<ServerMessage, { t: "private" }>,
  self: string,
): string | null {
  if (
    message.to !== undefined && self !== "" &&
    nameKey(message.from) !== nameKey(self)
  ) return null;
  return plainPrivateOther(message);
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

/**
 * The warning before a plain message from `name`, which reads like `known`,
 * a name this client knows by an identity key (PROTOCOL 8, "Look-alike
 * names"). A plain message names no key, so unlike a look-alike met end to
 * end (e2e_sessions.ts lookalikeWarning) the key behind it cannot be told
 * from `known`'s: honestly, `known` took the name too, with the same key.
 */
export function plainLookalikeWarning(name: string, known: string): string {
  return `WARNING: ${name} looks like ${known}, whom this client knows by an identity key, and ${name}'s messages come without end-to-end encryption, so no key shows who wrote them: a server gives nobody but ${known} a name that reads like ${known}'s, so unless ${known} took ${name} too, the host of this one may be posing as ${known}. Check with ${known} before taking ${name} for them (said once)`;
}

/**
 * The warnings before plain `private` and `group` messages from a name not
 * known by a key that reads like one known by a key: one for each name, at
 * its first such message in this session, as for a look-alike met end to
 * end. The public room is left out: its lines are the host's word under
 * any name, the known one's included.
 */
export class PlainLookalikeWarnings {
  readonly #warned = new Set<string>();

  /**
   * The warning to show before `message`, or null: it is not a plain
   * `private` or `group`, its sender (and a private one's `to`) is known by a key (`usesE2e`: a
   * private one is refused then, a group one warned of), reads like no
   * name known by a key (`lookalikeOf`, by name: the known name, or null),
   * or was warned of already.
   */
  before(
    message: ServerMessage,
    usesE2e: (name: string) => boolean,
    lookalikeOf: (name: string) => string | null,
  ): string | null {
    if (message.t !== "private" && message.t !== "group") return null;
    // The sender, and a private one's `to`: the other side of one the
    // viewer sent, but under another sender's name (no honest server sends
    // that) only a name the host added, which passed the look-alike over
    // when it alone was looked at ("from a1ice to bob", bob the viewer).
    const names = message.t === "private" && message.to !== undefined
      ? [message.from, message.to]
      : [message.from];
    for (const name of names) {
      const key = nameKey(name);
      if (this.#warned.has(key) || usesE2e(name)) continue;
      const known = lookalikeOf(name);
      if (known === null) continue;
      if (this.#warned.size >= MAX_WARNED) this.#warned.clear();
      this.#warned.add(key);
      return plainLookalikeWarning(name, known);
    }
    return null;
  }
}
