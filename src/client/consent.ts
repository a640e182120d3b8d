// This module is browser compatible.

/**
 * Whether to take a file someone offers: the `--accept-files` policy, the
 * senders the user always accepts (by identity key, never by name), and the
 * question asked when it is the user's call. Pure: the prompt queue and the
 * list of trusted keys on disk are the session's.
 *
 * @module
 */

import type { FileOfferNotice } from "../protocol/messages.ts";
import { notOpenedByName } from "../files/kind.ts";
import { safeFileName } from "../files/naming.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { formatBytes, own, type Style } from "./render.ts";
import { FINGERPRINT_PATTERN } from "../crypto/keys.ts";

/**
 * `ask`: ask for each offer (keys remembered with `always` are accepted
 * without asking); `trusted`: accept only those keys, decline the rest;
 * `all`: accept everything; `none`: decline everything.
 */
export type AcceptPolicy = "ask" | "trusted" | "all" | "none";

export const ACCEPT_POLICIES: readonly AcceptPolicy[] = [
  "ask",
  "trusted",
  "all",
  "none",
];

/** What the user typed in answer to an offer. */
export type OfferAnswer = "yes" | "no" | "always";

export type OfferDecision =
  | { kind: "accept"; note: string | null }
  | { kind: "decline"; note: string }
  | { kind: "ask" };

/** A key fingerprint as the server sends it: SHA-256, unpadded base64. */

/** The offer's sender key, if the server named a well-formed one. */
export function senderKey(offer: FileOfferNotice): string | null {
  return offer.fingerprint !== undefined &&
      FINGERPRINT_PATTERN.test(offer.fingerprint)
    ? offer.fingerprint
    : null;
}

/** The longest the client waits for the user, however long the server waits. */
export const MAX_ANSWER_MS = 60_000;

/**
 * What to do with an offer before anyone is asked. `trusted`: the offer's
 * sender key is one the user always accepts. `named`: the offer's `name` is
 * the file's; false when it is to come end to end with the file's key, which
 * a client declining the offer anyway does not wait for.
 */
export function decideOffer(
  offer: FileOfferNotice,
  policy: AcceptPolicy,
  trusted: boolean,
  named = true,
): OfferDecision {
  const what = named ? describeOffer(offer) : describeUnnamedOffer(offer);
  if (offer.timeout === undefined) {
    // An older server sends the file without waiting for an answer: there is
    // no time to ask, so only a user who accepts everything receives it.
    return policy === "all" ? { kind: "accept", note: null } : {
      kind: "decline",
      note:
        `Declined ${what}: this server sends files without asking first; only --accept-files all receives from it`,
    };
  }
  switch (policy) {
    case "all":
      return { kind: "accept", note: null };
    case "none":
      return {
        kind: "decline",
        note:
          `Declined ${what} (--accept-files none; use --accept-files ask to be asked)`,
      };
    case "trusted":
      return trusted ? { kind: "accept", note: trustedNote(offer) } : {
        kind: "decline",
        note:
          `Declined ${what}: not a sender you always accept (--accept-files trusted)`,
      };
    case "ask":
      return trusted
        ? { kind: "accept", note: trustedNote(offer) }
        : { kind: "ask" };
    default: {
      const unreachable: never = policy;
      return unreachable;
    }
  }
}

/**
 * The question for one offer, e.g.
 * `sophia wants to send you big.bin (20.0 MiB). Accept? [y]es / [n]o / always from sophia`.
 * The name shown is the one the file will be saved under (naming.ts), not
 * the one offered, sanitised so padding such as U+2800 shows; a name whose
 * kind is never opened says so (`photo.jpg.exe (3 B) (.exe: will be saved,
 * not opened)`), so a disguised extension is seen before the answer.
 * `always` is offered only when the server named the sender's key, and is a
 * whole word to type: it trusts a key for good, so one stray `a` must not.
 */
export function offerQuestion(offer: FileOfferNotice): string {
  const from = sanitizeForTerminal(offer.from);
  const always = senderKey(offer) === null ? "" : ` / always from ${from}`;
  return `${offerSentence(offer)}. Accept? [y]es / [n]o${always}`;
}

/**
 * The row kept above the prompt while offers wait for an answer (the
 * question itself scrolls away with the lines that come after it): the
 * answers, how many offers wait when more than one, and the oldest, which
 * the answer goes to, e.g.
 * `Answer y / n / always (1 of 2 offers): sophia wants to send you big.bin (20.0 MiB)`.
 * The answers come first: a narrow terminal cuts the row's end.
 */
export function waitingRow(offer: FileOfferNotice, waiting: number): string {
  const always = senderKey(offer) === null ? "" : " / always";
  const count = waiting > 1 ? ` (1 of ${waiting} offers)` : "";
  return `Answer y / n${always}${count}: ${offerSentence(offer)}`;
}

/** `sophia wants to send you big.bin (20.0 MiB)`, sanitised, as saved. */
function offerSentence(offer: FileOfferNotice): string {
  const from = sanitizeForTerminal(offer.from);
  const where = offer.group === undefined
    ? "you"
    : `group ${sanitizeForTerminal(offer.group)}`;
  const saved = safeFileName(offer.name);
  const notOpened = notOpenedByName(saved);
  const note = notOpened === null ? "" : ` (${notOpened})`;
  return `${from} wants to send ${where} ${sanitizeForTerminal(saved)} (${
    formatBytes(offer.size)
  })${note}`;
}

/** The answer a line gives, or null if it is not one (it is then chat input). */
export function parseAnswer(
  line: string,
  offer: FileOfferNotice,
): OfferAnswer | null {
  switch (line.trim().toLowerCase()) {
    case "y":
    case "yes":
      return "yes";
    case "n":
    case "no":
      return "no";
    case "always":
      return senderKey(offer) === null ? null : "always";
    default:
      return null;
  }
}

/**
 * How long the user has to answer: two thirds of the server's wait (so the
 * user hears "declined" from their own client, not a late cancel from the
 * server), at most {@linkcode MAX_ANSWER_MS}.
 */
export function answerTimeoutMs(offer: FileOfferNotice): number {
  return Math.min(MAX_ANSWER_MS, Math.floor((offer.timeout ?? 0) * 2 / 3));
}

/**
 * `big.bin (20.0 MiB) from sophia`, sanitised; the name and the sender's
 * each a run of its own when `style` isolates them (the web page).
 */
export function describeOffer(
  offer: FileOfferNotice,
  style: Pick<Style, "isolate"> = {},
): string {
  return `${own(style, sanitizeForTerminal(offer.name))} (${
    formatBytes(offer.size)
  }) from ${own(style, sanitizeForTerminal(offer.from))}`;
}

/**
 * What a client says of an offer under the transfer number of one it still
 * has (asked about, waiting for its key, or coming in): the server broke
 * the protocol (numbers are unique per server), and the offer is ignored,
 * so that it can neither replace the first nor stand as a second question
 * whose answer would go to the first.
 */
export function duplicateOfferWarning(offer: FileOfferNotice): string {
  return `WARNING: The server offered ${
    describeOffer(offer)
  } under transfer number ${offer.xfer}, which another file here has already: ignored (a server's mistake, or a trick)`;
}

/** `a file (20.0 MiB) from sophia`, sanitised: its name is not known. */
export function describeUnnamedOffer(offer: FileOfferNotice): string {
  return `a file (${formatBytes(offer.size)}) from ${
    sanitizeForTerminal(offer.from)
  }`;
}

function trustedNote(offer: FileOfferNotice): string {
  return `Accepting ${
    describeOffer(offer)
  }: you always accept files from this key`;
}
