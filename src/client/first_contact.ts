// This module is browser compatible.

/**
 * The first connection to a server whose key is not known yet, as ssh does
 * it: show the key's fingerprint and ask before trusting it. Only a person
 * can compare a fingerprint with the one the server's operator gave them, so
 * a script (no terminal to ask on) is refused unless it says which key to
 * trust (--pub) or that it trusts whatever key it meets (--trust-first-use).
 *
 * What was typed before the question was shown, and what comes less than
 * {@linkcode ANSWER_GUARD_MS} after it (the rule file offers follow), is not
 * taken as an answer: a `yes` typed ahead while the client started would
 * otherwise trust a key nobody had read.
 *
 * Pure: the question is asked through the {@linkcode Asker} it is given.
 *
 * @module
 */

import { ANSWER_GUARD_MS } from "./offer_prompts.ts";

/** What to do when a server's key is not known yet. */
export type FirstContact =
  /** Ask the person at the terminal (the default on a terminal). */
  | "ask"
  /** Remember whatever key the server presents (--trust-first-use). */
  | "trust"
  /** Refuse to connect (the default when stdin is not a terminal). */
  | "refuse";

/** Prints lines and asks questions; `question` resolves null at end of input. */
export interface Asker {
  print(line: string): void;
  question(prompt: string): Promise<string | null>;
  /**
   * Drops what was typed and not read yet (lines waiting, the line being
   * edited); returns how many lines or partial lines went. Optional: an
   * asker with no typing ahead (a test's script) leaves it out.
   */
  discardTypedAhead?(): number;
}

/** Said for each line not taken because it came before the question could be read. */
export const TYPED_AHEAD_NOTE =
  `What was typed before this question was shown, or less than ${
    ANSWER_GUARD_MS / 1000
  } s after it, is not taken as an answer: compare the fingerprint above, then answer.`;

/** What an answer to the first-contact question means. */
export type FirstContactAnswer =
  | { kind: "yes" }
  | { kind: "no" }
  /** A fingerprint that is not the server's: refuse, and say so. */
  | { kind: "mismatch" }
  /** Anything else: ask again. */
  | { kind: "unclear" };

export const FIRST_CONTACT_QUESTION =
  "Are you sure you want to continue connecting (yes/no/[fingerprint])? ";

const FINGERPRINT_LIKE = /^(SHA256:)?[A-Za-z0-9+/]{43}=?$/;

/** The lines shown before the question, as ssh words them. */
export function firstContactLines(
  hostKey: string,
  fingerprint: string,
): string[] {
  return [
    `The authenticity of host '${hostKey}' can't be established.`,
    `Server key fingerprint is ${fingerprint}.`,
    "Compare it with the fingerprint 'chat serve' printed on the server, or ask its operator.",
  ];
}

/**
 * Reads an answer as ssh does: "yes" or "no" in any case, or the fingerprint
 * itself (pasted from the operator's message), which must then match.
 */
export function parseFirstContactAnswer(
  answer: string,
  fingerprint: string,
): FirstContactAnswer {
  const text = answer.trim();
  if (/^yes$/i.test(text)) return { kind: "yes" };
  if (/^no$/i.test(text)) return { kind: "no" };
  if (FINGERPRINT_LIKE.test(text)) {
    const given = text.replace(/^SHA256:/, "").replace(/=$/, "");
    return given === fingerprint.replace(/^SHA256:/, "")
      ? { kind: "yes" }
      : { kind: "mismatch" };
  }
  return { kind: "unclear" };
}

/**
 * Shows the server's fingerprint and asks until the answer is clear. True
 * only for "yes" or the matching fingerprint; the end of input is a "no".
 */
export async function askFirstContact(
  asker: Asker,
  hostKey: string,
  fingerprint: string,
  /** The clock, in milliseconds (tests move it by hand). */
  now: () => number = () => performance.now(),
): Promise<boolean> {
  for (const line of firstContactLines(hostKey, fingerprint)) {
    asker.print(line);
  }
  if ((asker.discardTypedAhead?.() ?? 0) > 0) asker.print(TYPED_AHEAD_NOTE);
  // Counted from the first showing, not from each one again: a note that
  // restarted it would refuse an answer typed at once after it forever.
  const shownAt = now();
  let prompt = FIRST_CONTACT_QUESTION;
  for (;;) {
    const answer = await asker.question(prompt);
    if (answer === null) return false;
    if (now() - shownAt < ANSWER_GUARD_MS) {
      asker.print(TYPED_AHEAD_NOTE);
      continue;
    }
    const meaning = parseFirstContactAnswer(answer, fingerprint);
    switch (meaning.kind) {
      case "yes":
        return true;
      case "no":
        return false;
      case "mismatch":
        asker.print(
          `That is not the fingerprint of the key ${hostKey} presents (${fingerprint}): someone may be intercepting the connection.`,
        );
        return false;
      case "unclear":
        prompt = "Please type 'yes', 'no' or the fingerprint: ";
        break;
      default: {
        const unreachable: never = meaning;
        return unreachable;
      }
    }
  }
}

/** Why a script's first connection to an unknown server is refused, and what to do. */
export function firstContactRefusal(
  hostKey: string,
  fingerprint: string,
): string {
  return `The authenticity of host '${hostKey}' can't be established: its key ` +
    `(fingerprint ${fingerprint}) is not known yet, and stdin is not a ` +
    `terminal to ask on. Refusing to connect; pass the server's public key ` +
    `with --pub FILE, or --trust-first-use to trust the key it presents now`;
}

/** Why the user's answer ended the connection. */
export function firstContactDeclined(hostKey: string): string {
  return `Host key for ${hostKey} not accepted; not connecting`;
}
