// This module is browser compatible.

/**
 * Make text from other people safe to print on a terminal.
 *
 * Anything that could steer the terminal (C0 and C1 controls, so no escape
 * sequence ever reaches it raw) or hide what the text says (bidi overrides,
 * zero-width characters) is made visible instead of being dropped, so the
 * reader sees that something was there. Joiners and variation selectors that
 * emoji sequences need are kept.
 *
 * @module
 */

/**
 * Return `text` with control, bidi and invisible characters made visible:
 * C0 controls and DEL in caret notation (ESC as `^[`, newline as `^J`, DEL as
 * `^?`), a tab as one space, C1 controls, bidi controls, zero-width and other
 * invisible format characters as `<U+XXXX>`, lone surrogates as U+FFFD.
 *
 * @example
 * ```ts
 * sanitizeForTerminal("\x1b[31mred"); // "^[[31mred"
 * ```
 */
export function sanitizeForTerminal(text: string): string {
  return rewrite(text, visible);
}

/**
 * Like {@linkcode sanitizeForTerminal} but removes those characters instead of
 * showing them (a tab still becomes a space): for single-line places where a
 * marker would only be noise, such as a window title.
 */
export function stripControls(text: string): string {
  return rewrite(text, removed);
}

type Replacer = (code: number) => string;

function visible(code: number): string {
  if (code < 0x20) return "^" + String.fromCharCode(code + 0x40);
  if (code === 0x7f) return "^?";
  return "<U+" + code.toString(16).toUpperCase().padStart(4, "0") + ">";
}

function removed(): string {
  return "";
}

/** Whether a UTF-16 code unit (not a surrogate) must not reach the terminal. */
function isUnsafe(code: number): boolean {
  return code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x00ad || // soft hyphen: invisible unless a line breaks there
    code === 0x061c || // Arabic letter mark (bidi)
    code === 0x180e || // Mongolian vowel separator
    (code >= 0x200b && code <= 0x200f && code !== 0x200d) || // ZWSP, ZWNJ, LRM, RLM; ZWJ joins emoji
    (code >= 0x2028 && code <= 0x202e) || // line/paragraph separators, bidi embeddings and overrides
    // Word joiner, invisible operators, bidi isolates and the deprecated
    // (still invisible) shaping controls: the whole block is default-ignorable.
    (code >= 0x2060 && code <= 0x206f) ||
    code === 0xfeff;
}

function rewrite(text: string, replace: Replacer): string {
  let out = "";
  // Start of the text not yet copied to `out`; stays 0 while nothing changed.
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // Fast path: printable ASCII is the common case and always safe.
    if (code >= 0x20 && code < 0x7f) continue;
    let replacement: string;
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        // A well-formed pair (emoji, variation selectors supplement, tags).
        i++;
        continue;
      }
      // A lone surrogate cannot be encoded to UTF-8 for the terminal.
      replacement = "\ufffd";
    } else if (code === 0x09) {
      // A tab would jump to the next tab stop and could hide text behind it.
      replacement = " ";
    } else if (isUnsafe(code)) {
      replacement = replace(code);
    } else {
      continue;
    }
    out += text.slice(from, i) + replacement;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}
