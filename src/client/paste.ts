// This module is browser compatible.

/**
 * A multi-line paste: several lines that arrive in one burst (a person
 * cannot press Enter twice within a few milliseconds) are held, and more
 * than {@linkcode MAX_UNASKED_LINES} are sent only after `Send 7 lines?
 * [y/N]` is answered yes, since a paste may hold commands or text meant for
 * somewhere else. Pure: the terminal times the bursts and asks.
 *
 * @module
 */

/** Lines arriving within this long of the previous one belong to its burst. */
export const PASTE_WINDOW_MS = 15;
/** A burst of up to this many lines is sent without asking. */
export const MAX_UNASKED_LINES = 3;

/** What to do with the lines of one burst. */
export type BurstDecision =
  | { kind: "send" }
  | { kind: "ask"; question: string };

/**
 * Sends the burst at once, or asks first: counting only the lines that
 * would be sent (linesSent), so a paste of three lines between blank ones
 * is not asked about, nor said to be 9 lines.
 */
export function decideBurst(lines: readonly string[]): BurstDecision {
  const count = linesSent(lines);
  return count <= MAX_UNASKED_LINES
    ? { kind: "send" }
    : { kind: "ask", question: pasteQuestion(count) };
}

/**
 * How many of `lines` would be sent: a blank line sends nothing
 * (parseInput), so it is not counted in the question nor in what is said
 * when they are not sent.
 */
export function linesSent(lines: readonly string[]): number {
  return lines.filter((line) => line.trim() !== "").length;
}

/**
 * The question before `count` pasted lines are sent. A bracketed paste
 * (bracketed_paste.ts) asks about any line break, so about one line too.
 */
export function pasteQuestion(count: number): string {
  return `Send ${count} ${count === 1 ? "line" : "lines"}? [y/N] `;
}

/** What a person sees as one character: one key, however many code points. */
const ONE_KEY = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The answer one read of keys gives the question at once, as `[y/N]`
 * promises in most terminal tools (apt, git add -p): `y` yes; `n`, Enter,
 * Escape or any other printable key no, as the capital N says (a key left
 * to the editor was typed into the answer's line, and the line after it);
 * an Enter right behind the key, typed out of habit in the same read, goes
 * with it (it would send the line the paste left in the editor). Null for
 * anything else: more text is a paste or a word typed (`yes please`, `you
 * there?`), never taken as the answer; a control key (Ctrl-C, Ctrl-D) is
 * the editor's.
 */
export function oneKeyAnswer(keys: string): "yes" | "no" | null {
  if (/^[\r\n]$/.test(keys)) return "no";
  // One key may be several code points (an emoji with its skin tone, a
  // letter and its accent typed apart): counted as one, it is no, where
  // it was taken for text typed and told "Not pasted".
  const [first, ...rest] = [...ONE_KEY.segment(keys)].map((s) => s.segment);
  const key = rest.length === 0 ||
      (rest.length === 1 && /^[\r\n]$/.test(rest[0]!))
    ? first ?? ""
    : keys;
  if (key === "y" || key === "Y") return "yes";
  if (key === "\x1b") return "no";
  // One key (a letter, a digit, a letter with an accent, an emoji): no.
  if (key === first && key >= " " && key !== "\x7f") return "no";
  return null;
}

/** Whether the answer to the question is yes (`y`, `yes`, any case); anything else is no. */
export function pasteConfirmed(answer: string): boolean {
  return /^\s*y(es)?\s*$/i.test(answer);
}

/** What is said when a burst is not sent. */
export function pasteDropped(count: number): string {
  return count === 1
    ? "Not sent: the pasted line"
    : `Not sent: the ${count} pasted lines`;
}
