// This module is browser compatible.

/**
 * What `/transfers` shows and what `/cancel N` refers to: the file transfers
 * running (sent and received), the files waiting to be offered again after a
 * broken transfer and the partial downloads kept for resuming, each under a
 * number that stays the same for as long as it is listed.
 *
 * @module
 */

import { sanitizeForTerminal } from "../text/sanitize.ts";
import { formatBytes } from "./render.ts";
import {
  MAX_SENDING_AT_ONCE,
  MAX_SENDING_PER_RECIPIENT,
} from "./sending_places.ts";

/** One line of `/transfers`, before it gets its number. */
export type TransferEntry =
  | {
    /** An offer not answered yet: /cancel takes it back. */
    kind: "offered";
    /** The offer's request id (file_sender.ts). */
    offer: number;
    /** The sent file's number, when it has one (see `entryId`). */
    fileNumber?: number;
    name: string;
    /** `jojo` or `group team`. */
    to: string;
  }
  | {
    kind: "sending";
    xfer: number;
    /** The sent file's number, when it has one (see `entryId`). */
    fileNumber?: number;
    name: string;
    /** `jojo` or `group team`. */
    to: string;
    done: number;
    size: number;
    resumedAt: number;
  }
  | {
    /**
     * A file waiting to be offered: again, its transfer having broken, for
     * its place (its recipient has the most of ours under way), for its
     * turn (it has its place, and waits for the offer of the file given
     * its place before it to go out, so that they reach the wire in the
     * order sent), for one of the files under way at once to end (a
     * `--json` bot's, MAX_SENDING_AT_ONCE), or for the connection.
     */
    kind: "resend";
    /** The sent file's number (outgoing_files.ts; see `entryId`). */
    id: number;
    name: string;
    /** `jojo`, `group team`, or several: `jojo, mia`. */
    to: string;
    why: "again" | "place" | "turn" | "many" | "connection";
  }
  | {
    kind: "receiving";
    xfer: number;
    name: string;
    from: string;
    done: number;
    size: number;
    resumedAt: number;
  }
  | {
    kind: "resumable";
    key: string;
    name: string;
    from: string;
    done: number;
    size: number;
    /** Last written, ms since the epoch. */
    modified: number;
  };

/**
 * The identity of an entry across listings. A file sent is one from the
 * moment it is typed until it ends, through every stage (waiting for its
 * place, offered, sending, waiting to be offered again, offered again):
 * each stage gave it a new number before, and `/cancel` of the number
 * listed while it waited said it had ended once it was offered.
 */
export function entryId(entry: TransferEntry): string {
  switch (entry.kind) {
    case "offered":
      return entry.fileNumber === undefined
        ? `offer:${entry.offer}`
        : sentFileId(entry.fileNumber);
    case "sending":
      return entry.fileNumber === undefined
        ? `out:${entry.xfer}`
        : sentFileId(entry.fileNumber);
    case "resend":
      return sentFileId(entry.id);
    case "receiving":
      return `in:${entry.xfer}`;
    case "resumable":
      return `part:${entry.key}`;
    default: {
      const unreachable: never = entry;
      return unreachable;
    }
  }
}

function sentFileId(fileNumber: number): string {
  return `file:${fileNumber}`;
}

/**
 * The number of the file sent that `entry` is a step of (outgoing_files.ts,
 * web files_view.ts): `/cancel` stops that file at whatever step it is at
 * now, which may be a later one than listed.
 */
export function sentFileNumber(entry: TransferEntry): number | undefined {
  switch (entry.kind) {
    case "offered":
    case "sending":
      return entry.fileNumber;
    case "resend":
      return entry.id;
    case "receiving":
    case "resumable":
      return undefined;
    default: {
      const unreachable: never = entry;
      return unreachable;
    }
  }
}

/** Numbers entries for `/cancel`: one stays the same while it is listed. */
export class TransferNumbers {
  #numbers = new Map<string, number>();
  #entries = new Map<number, TransferEntry>();
  #next = 1;

  /**
   * Numbers `entries` (new ones get the next numbers); forgets the rest,
   * but for the files sent numbered `between` (`sentFileNumber`): under way
   * though not listed now, between two steps (their key going out before
   * their offer), they keep their numbers, which /cancel still takes.
   */
  number(
    entries: TransferEntry[],
    between: readonly number[] = [],
  ): [number, TransferEntry][] {
    const seen = new Map<string, number>();
    const before = this.#entries;
    this.#entries = new Map();
    const numbered: [number, TransferEntry][] = entries.map((entry) => {
      let id = entryId(entry);
      // Two entries of one file at once (not expected: its steps follow
      // one another) still get a number each.
      while (seen.has(id)) id += "+";
      const n = this.#numbers.get(id) ?? this.#next++;
      seen.set(id, n);
      this.#entries.set(n, entry);
      return [n, entry];
    });
    for (const file of between) {
      const id = sentFileId(file);
      const n = this.#numbers.get(id);
      const entry = n === undefined ? undefined : before.get(n);
      if (seen.has(id) || n === undefined || entry === undefined) continue;
      seen.set(id, n);
      this.#entries.set(n, entry);
    }
    this.#numbers = seen;
    return numbered.sort((a, b) => a[0] - b[0]);
  }

  /** The entry listed under `n` the last time, if any. */
  get(n: number): TransferEntry | undefined {
    return this.#entries.get(n);
  }
}

function share(done: number, size: number): string {
  const percent = size === 0 ? 100 : Math.floor((done / size) * 100);
  return `${formatBytes(done)} of ${formatBytes(size)} (${percent}%)`;
}

/** The lines of `/transfers`. */
export function formatTransfers(
  numbered: [number, TransferEntry][],
): string[] {
  if (numbered.length === 0) return ["No file transfers."];
  const lines = ["File transfers (/cancel N stops one):"];
  for (const [n, entry] of numbered) {
    const name = sanitizeForTerminal(entry.name);
    const resumed = (entry.kind === "sending" || entry.kind === "receiving") &&
        entry.resumedAt > 0
      ? `, resumed at ${formatBytes(entry.resumedAt)}`
      : "";
    switch (entry.kind) {
      case "offered":
        lines.push(
          `  ${n}. offered ${name} to ${
            sanitizeForTerminal(entry.to)
          }: waiting for an answer`,
        );
        break;
      case "sending":
        lines.push(
          `  ${n}. sending ${name} to ${sanitizeForTerminal(entry.to)}: ${
            share(entry.done, entry.size)
          }${resumed}`,
        );
        break;
      case "resend":
        lines.push(
          `  ${n}. sending ${name} to ${sanitizeForTerminal(entry.to)}: ${
            entry.why === "again"
              ? "waiting to offer it again, resuming where it stopped"
              : entry.why === "connection"
              ? "waiting to offer it once reconnected"
              // Its place is free already: what it waits for is the offer
              // before it. Before, it said it waited for one of the 4 under
              // way to end, which had ended.
              : entry.why === "turn"
              ? "waiting to offer it, once the file sent before it to them is offered"
              : entry.why === "many"
              ? `waiting to offer it, after one of the ${MAX_SENDING_AT_ONCE} files under way ends`
              : `waiting to offer it, after one of the ${MAX_SENDING_PER_RECIPIENT} under way to them ends`
          }`,
        );
        break;
      case "receiving":
        lines.push(
          `  ${n}. receiving ${name} from ${sanitizeForTerminal(entry.from)}: ${
            share(entry.done, entry.size)
          }${resumed}`,
        );
        break;
      case "resumable":
        lines.push(
          `  ${n}. resumable ${name} from ${sanitizeForTerminal(entry.from)}: ${
            share(entry.done, entry.size)
          } kept; resumes when they send it again`,
        );
        break;
      default: {
        const unreachable: never = entry;
        return unreachable;
      }
    }
  }
  return lines;
}
