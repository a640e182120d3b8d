// This module is browser compatible.

/**
 * Files received whole a moment ago, by the partial key of their offer
 * (files/partials.ts `partialKey`: the sender's key fingerprint, the name,
 * the size), so that the same file offered again by the same sender is
 * recognised rather than saved twice. A sender whose connection broke after
 * the recipient had the file, but before it heard so, offers it again
 * (outgoing_files.ts, docs/PROTOCOL.md 5.6 "Resume") with the whole file's
 * keyed SHA-256 (`offeredAgain`): the recipient then claims all of it, and
 * nothing is sent or saved again. Name and size alone do not tell files
 * apart: another file under them (the same report, edited, sent a minute
 * later) comes without that digest, or with another, and is asked about.
 *
 * Kept in memory for the session, a few minutes (a sender offers again for
 * at most 5 minutes connected, resend_schedule.ts), at most RECENT_FILES.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";

/** How many files received are remembered, at most (the oldest go first). */
export const RECENT_FILES = 64;
/** How long a file received is remembered (ms). */
export const RECENT_MS = 10 * 60_000;

export interface ReceivedFile {
  /** The sender's name, as the offer said it. */
  from: string;
  /** The SHA-256 of the whole file (not keyed), 64 lower-case hex digits. */
  sha256: string;
  /** Where it was saved, and under what name. */
  path: string;
  name: string;
  /**
   * Whether it is still here, asked when it is offered again; absent: it
   * is. One gone is not claimed whole, or its sender would hear it arrived
   * while nothing of it is here: the terminal's file deleted, moved or
   * changed since it was saved (file_receiver.ts), a file the web page let
   * go (it keeps files in memory within a bound).
   */
  kept?: () => boolean;
}

export class ReceivedFiles {
  #files = new Map<string, ReceivedFile & { at: number }>();
  #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** `key`'s file is here, whole, as `file`. */
  remember(key: string, file: ReceivedFile): void {
    this.#files.delete(key);
    this.#files.set(key, { ...file, at: this.#now() });
    for (const oldest of this.#files.keys()) {
      if (this.#files.size <= RECENT_FILES) break;
      this.#files.delete(oldest);
    }
  }

  /**
   * The file received under `key` from `from` (names compared as the
   * partials' are: `nameKey`), if it came within RECENT_MS and is still
   * kept (`ReceivedFile.kept`).
   */
  find(key: string, from: string): ReceivedFile | null {
    const file = this.#files.get(key);
    if (file === undefined) return null;
    if (this.#now() - file.at > RECENT_MS || file.kept?.() === false) {
      this.#files.delete(key);
      return null;
    }
    return nameKey(file.from) === nameKey(from) ? file : null;
  }

  /** `key`'s file is no longer to be recognised (another came under it). */
  forget(key: string): void {
    this.#files.delete(key);
  }
}

/** What a transfer's cipher gives for a file's SHA-256 (file_cipher.ts). */
export interface KeyedDigest {
  keyedDigest(sha256Hex: string): Promise<string>;
}

/**
 * Whether `offer` is `file` offered again: its `sha256` (the whole file's,
 * keyed with the offer's key; sent only in an offer made again of a file
 * whose end went out, docs/PROTOCOL.md 5.6 "Resume") is `file`'s, keyed the
 * same way. An offer without it (a new file under the same name and size:
 * before, it was claimed whole, then refused as "not the file received a
 * moment ago") is not.
 */
export async function offeredAgain(
  offer: { sha256?: string },
  file: ReceivedFile,
  cipher: KeyedDigest,
): Promise<boolean> {
  return offer.sha256 !== undefined &&
    await cipher.keyedDigest(file.sha256) === offer.sha256;
}

/**
 * The file_accept that claims all of `file`, received a moment ago, for the
 * same file offered again as `offer`: at its size, with its SHA-256 keyed
 * by the transfer's cipher, for the sender to check against its own
 * (docs/PROTOCOL.md 5.6 "Resume"). Terminal and web page alike.
 */
export async function claimWhole(
  offer: { xfer: number; size: number },
  file: ReceivedFile,
  cipher: KeyedDigest,
): Promise<{ t: "file_accept"; xfer: number; offset: number; sha256: string }> {
  return {
    t: "file_accept",
    xfer: offer.xfer,
    offset: offer.size,
    sha256: await cipher.keyedDigest(file.sha256),
  };
}

/**
 * Whether a file claimed whole ended (its file_end's `sha256`, keyed) as
 * `file`, the one here: if not, it is another file under the same name and
 * size, refused and asked about afresh if offered again.
 */
export async function endsAsReceived(
  file: ReceivedFile,
  cipher: KeyedDigest,
  sha256: string,
): Promise<boolean> {
  return await cipher.keyedDigest(file.sha256) === sha256.toLowerCase();
}
