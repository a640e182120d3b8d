// This module is browser compatible.

/**
 * Make text from other people safe to print on a terminal.
 *
 * Anything that could steer the terminal (C0 and C1 controls, so no escape
 * sequence ever reaches it raw) or hide what the text says (bidi controls,
 * format characters, default-ignorable characters such as zero-width spaces,
 * tag characters and Hangul fillers, stray variation selectors, floods of
 * combining marks) is made visible instead of being dropped, so the reader
 * sees that something was there. What emoji and ideographs need is kept:
 *
 * - ZWJ (U+200D) between two emoji: it draws one picture from several
 *   (👨‍👩‍👧, 🏳️‍🌈) and hides nothing, since both sides are visible
 *   emoji; at worst a terminal that lacks the sequence shows them side by
 *   side. Anywhere else (including Indic conjuncts, like ZWNJ) it is shown,
 *   because there it could join or split a word invisibly.
 * - One variation selector straight after a character it can select a form
 *   of: VS15/VS16 after an emoji, VS1-VS14 after an ideograph or a maths
 *   symbol (standardised variants), VS17-VS256 after an ideograph
 *   (ideographic variation sequences). Any other, and any second one in a
 *   row, is shown: 256 selectors in a row is how bytes are smuggled in text
 *   that looks like one emoji.
 * - Tag characters only in the three recommended (RGI) subdivision flags:
 *   🏴 + `gbeng`, `gbsct` or `gbwls` + CANCEL TAG (England, Scotland,
 *   Wales). Any other tag is shown: tags spell invisible ASCII, and any
 *   2-6 letters would let each flag carry 6 hidden characters.
 *
 * Also shown: characters that draw nothing though they are not format
 * characters (U+2800 BRAILLE PATTERN BLANK, U+1D159 MUSICAL SYMBOL NULL
 * NOTEHEAD, U+16FE4 KHITAN SMALL SCRIPT FILLER), private-use code points
 * (Co: what they draw depends on the reader's fonts) and unassigned ones (Cn:
 * nothing to draw yet, as far as this runtime's Unicode knows).
 *
 * @module
 */

/**
 * Return `text` with control, format and invisible characters made visible:
 * C0 controls and DEL in caret notation (ESC as `^[`, newline as `^J`, DEL as
 * `^?`), a tab as one space, C1 controls, bidi controls, format characters
 * (Unicode category Cf), default-ignorable characters, line and paragraph
 * separators and stray variation selectors as `<U+XXXX>`, more than
 * {@linkcode MAX_COMBINING_MARKS} combining marks in a row as `<+N marks>`,
 * lone surrogates as U+FFFD.
 *
 * @example
 * ```ts
 * sanitizeForTerminal("\x1b[31mred"); // "^[[31mred"
 * ```
 */
export function sanitizeForTerminal(text: string): string {
  return rewrite(text, visible, (count) => `<+${count} marks>`);
}

/**
 * Like {@linkcode sanitizeForTerminal} but removes those characters instead of
 * showing them (a tab still becomes a space): for single-line places where a
 * marker would only be noise, such as a window title.
 */
export function stripControls(text: string): string {
  return rewrite(text, removed, removed);
}

/**
 * Combining marks kept on one base character. Real text stacks a few (Vietnamese
 * two, pointed Hebrew with cantillation four or so); "Zalgo" text stacks
 * hundreds, which draw over the lines around it.
 */
export const MAX_COMBINING_MARKS = 8;

type Replacer = (code: number) => string;

function visible(code: number): string {
  if (code < 0x20) return "^" + String.fromCharCode(code + 0x40);
  if (code === 0x7f) return "^?";
  return "<U+" + code.toString(16).toUpperCase().padStart(4, "0") + ">";
}

function removed(): string {
  return "";
}

/**
 * Never printed as they are: format characters (Cf: bidi controls, zero-width
 * characters, tags, Arabic number signs...), default-ignorable code points
 * (Hangul fillers, CGJ, Mongolian and Khmer invisibles, and the reserved
 * ignorable ranges, so characters assigned later are covered too), line and
 * paragraph separators, and controls.
 */
const INVISIBLE =
  /^[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\p{Co}\p{Cn}\u2800\u{16FE4}\u{1D159}]$/u;
const MARK = /^\p{M}$/u;
const PICTOGRAPHIC = /^\p{Extended_Pictographic}$/u;
const EMOJI = /^\p{Emoji}$/u;
const EMOJI_MODIFIER = /^\p{Emoji_Modifier}$/u;
const IDEOGRAPH = /^\p{Ideographic}$/u;
const MATH = /^\p{Sm}$/u;

const ZWJ = 0x200d;
const VS15 = 0xfe0e;
const VS16 = 0xfe0f;
const BLACK_FLAG = 0x1f3f4;
const CANCEL_TAG = 0xe007f;

/** What a variation selector right after this character may select. */
type VariationBase = "emoji" | "ideograph" | "math" | null;

function variationBase(char: string): VariationBase {
  if (IDEOGRAPH.test(char)) return "ideograph";
  if (EMOJI.test(char)) return "emoji";
  if (MATH.test(char)) return "math";
  return null;
}

function isVariationSelector(code: number): boolean {
  return (code >= 0xfe00 && code <= 0xfe0f) ||
    (code >= 0xe0100 && code <= 0xe01ef);
}

function variationAllowed(code: number, base: VariationBase): boolean {
  switch (base) {
    case null:
      return false;
    case "emoji":
      return code === VS15 || code === VS16;
    case "ideograph":
      return code !== VS15 && code !== VS16;
    case "math":
      return code >= 0xfe00 && code <= 0xfe0d;
    default: {
      const unreachable: never = base;
      return unreachable;
    }
  }
}

/**
 * The subdivision flags Unicode recommends for general interchange (RGI);
 * the only tag sequences kept.
 */
const RGI_SUBDIVISIONS = ["gbeng", "gbsct", "gbwls"].map((name) =>
  [...name].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0)))
    .join("") + String.fromCodePoint(CANCEL_TAG)
);

/**
 * The length in UTF-16 units of an RGI subdivision flag's tags and CANCEL
 * TAG starting at `at` (just after 🏴), or 0 if there is none there.
 */
function flagTagsLength(text: string, at: number): number {
  for (const tags of RGI_SUBDIVISIONS) {
    if (text.startsWith(tags, at)) return tags.length;
  }
  return 0;
}

/** The number of code points in the run of combining marks starting at `at`, and its length. */
function markRun(text: string, at: number): { count: number; end: number } {
  let i = at;
  let count = 0;
  for (;;) {
    const code = text.codePointAt(i);
    if (code === undefined) break;
    const char = String.fromCodePoint(code);
    if (!MARK.test(char) || isVariationSelector(code)) break;
    count++;
    i += char.length;
  }
  return { count, end: i };
}

/**
 * Everything {@link rewrite} may change: controls, format, default-ignorable
 * and separator characters, marks, lone surrogates. Text without any (most
 * text, in any script) is returned as it is after one native scan.
 */
const ATTENTION =
  /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\p{M}\p{Cs}\p{Co}\p{Cn}\u2800\u{16FE4}\u{1D159}]/u;

function rewrite(
  text: string,
  replace: Replacer,
  flood: (count: number) => string,
): string {
  if (!ATTENTION.test(text)) return text;
  let out = "";
  // Start of the text not yet copied to `out`; stays 0 while nothing changed.
  let from = 0;
  // What the last base character lets follow it (reset by anything else).
  let afterPictographic = false;
  let base: VariationBase = null;
  let marks = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // Fast path: printable ASCII is the common case and always safe.
    if (code >= 0x20 && code < 0x7f) {
      afterPictographic = false;
      // Keycaps: 1️⃣ is a digit, VS16 and U+20E3.
      base = (code >= 0x30 && code <= 0x39) || code === 0x23 || code === 0x2a
        ? "emoji"
        : null;
      marks = 0;
      continue;
    }
    let replacement: string;
    let skip = 0;
    if (code >= 0xdc00 && code <= 0xdfff) {
      // A low surrogate here has no high surrogate before it.
      replacement = "\ufffd";
    } else if (
      code >= 0xd800 && code <= 0xdbff &&
      !(text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff)
    ) {
      // A lone surrogate cannot be encoded to UTF-8 for the terminal.
      replacement = "\ufffd";
    } else if (code === 0x09) {
      // A tab would jump to the next tab stop and could hide text behind it.
      replacement = " ";
    } else {
      const point = text.codePointAt(i)!;
      const char = String.fromCodePoint(point);
      const width = char.length;
      if (point === ZWJ) {
        if (afterPictographic && PICTOGRAPHIC.test(nextChar(text, i + 1))) {
          base = null;
          marks = 0;
          continue;
        }
        replacement = replace(point);
      } else if (isVariationSelector(point)) {
        if (variationAllowed(point, base)) {
          base = null;
          i += width - 1;
          continue;
        }
        replacement = replace(point);
        skip = width - 1;
      } else if (point === BLACK_FLAG) {
        const tags = flagTagsLength(text, i + 2);
        i += 1 + tags;
        afterPictographic = true;
        base = tags === 0 ? "emoji" : null;
        marks = 0;
        continue;
      } else if (INVISIBLE.test(char)) {
        replacement = replace(point);
        skip = width - 1;
      } else if (MARK.test(char)) {
        if (marks < MAX_COMBINING_MARKS) {
          marks++;
          i += width - 1;
          continue;
        }
        const run = markRun(text, i);
        replacement = flood(run.count);
        skip = run.end - i - 1;
      } else {
        // A visible character: it decides what may follow it.
        if (!EMOJI_MODIFIER.test(char)) {
          afterPictographic = PICTOGRAPHIC.test(char);
        }
        base = variationBase(char);
        marks = 0;
        i += width - 1;
        continue;
      }
      afterPictographic = false;
      base = null;
    }
    out += text.slice(from, i) + replacement;
    i += skip;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

function nextChar(text: string, at: number): string {
  const code = text.codePointAt(at);
  return code === undefined ? "" : String.fromCodePoint(code);
}
