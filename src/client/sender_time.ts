// This module is browser compatible.

/**
 * The sender's own time of an end-to-end private message (docs/PROTOCOL.md
 * 11.7, content type 3), against the server's `ts`: the time a user sees
 * with such a message is the sender's word, sealed and authenticated with
 * the text, and a host that held it back or re-dated it is told of.
 *
 * Pure: the caller keeps one SenderTimeWarnings per run and shows its lines.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import { formatTimestamp } from "./render.ts";

/**
 * How far the sender's time and the server's may differ before the user is
 * told: clocks on a LAN drift by seconds to a minute or so, and a message
 * takes a moment to reach the server.
 */
export const SENDER_TIME_TOLERANCE_MS = 2 * 60_000;

/**
 * Different conversations remembered by one SenderTimeWarnings; past it (a
 * hostile server inventing names) the memory starts again, at worst
 * repeating a warning.
 */
const MAX_WARNED = 10_000;

/**
 * The warning that `from`'s message, sealed at `sentAt` by their clock,
 * came with the server's time `serverTs` (epoch ms both), or null when they
 * are within the tolerance. An honest host may be behind it too: the
 * sender's client waited for its connection (a line is sealed once and
 * sent again as it was), or one of the two clocks is wrong.
 */
export function senderTimeWarning(
  from: string,
  sentAt: number,
  serverTs: number,
): string | null {
  if (Math.abs(sentAt - serverTs) <= SENDER_TIME_TOLERANCE_MS) return null;
  return `WARNING: ${from}'s message says it was written at ${
    formatTimestamp(sentAt)
  }; the server gave it the time ${
    formatTimestamp(serverTs)
  }: the host may have held it back or re-dated it (or ${from}'s client waited that long for its connection, or a clock is wrong). The sender's time is shown (said once for ${from} in this run)`;
}

/**
 * How much earlier than the latest one shown a sender's message may be
 * sealed before it counts as delivered out of order: two clients sharing a
 * user's keys (one config folder) may each seal a line a moment before the
 * other's reaches the server.
 */
export const OUT_OF_ORDER_SLACK_MS = 5_000;

/**
 * The warning that `from`'s message sealed at `sentAt` came after one they
 * sealed later, at `latest` (shown before it), or null.
 */
export function outOfOrderWarning(
  from: string,
  sentAt: number,
  latest: number,
): string | null {
  if (latest - sentAt <= OUT_OF_ORDER_SLACK_MS) return null;
  return `WARNING: ${from} wrote that message at ${
    formatTimestamp(sentAt)
  }, before the one of ${
    formatTimestamp(latest)
  } shown earlier: the host delivered them out of order, and may have held it back (or ${from}'s clock was set back)`;
}

/**
 * The warnings of senderTimeWarning, one for each conversation (sender) in
 * a run, at its first message whose times differ: one after each would bury
 * a conversation with a skewed clock; and of outOfOrderWarning, at each
 * message that came after one its sender sealed later.
 */
export class SenderTimeWarnings {
  readonly #warned = new Set<string>();
  /** The latest sender's time shown of each sender in this run. */
  readonly #latest = new Map<string, number>();

  /**
   * The warning to show with `from`'s message sealed at `sentAt`, if it
   * came after one they sealed later; remembers it otherwise.
   */
  order(from: string, sentAt: number): string | null {
    const key = nameKey(from);
    const latest = this.#latest.get(key);
    if (latest === undefined || sentAt > latest) {
      if (latest === undefined && this.#latest.size >= MAX_WARNED) {
        this.#latest.clear();
      }
      this.#latest.set(key, sentAt);
      return null;
    }
    return outOfOrderWarning(from, sentAt, latest);
  }

  /** The warning to show with `from`'s message, or null. */
  after(from: string, sentAt: number, serverTs: number): string | null {
    const key = nameKey(from);
    if (this.#warned.has(key)) return null;
    const warning = senderTimeWarning(from, sentAt, serverTs);
    if (warning === null) return null;
    if (this.#warned.size >= MAX_WARNED) this.#warned.clear();
    this.#warned.add(key);
    return warning;
  }
}
