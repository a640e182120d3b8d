// This module is browser compatible.

/**
 * A single character as a terminal may draw it in an error about it
 * (`'é' (U+00E9, character 4)`), or null when it is better named by its
 * code point alone: one that draws nothing or changes what is around it
 * (a control, a format or combining mark, a space of another width), or
 * that the terminal sanitizer would not leave as it is.
 *
 * @module
 */

import { sanitizeForTerminal } from "./sanitize.ts";

/** `char` itself when it is a letter, digit, punctuation or symbol a terminal draws as it is; else null. */
export function shownCharacter(char: string): string | null {
  if (!/^[\p{L}\p{N}\p{P}\p{S}]$/u.test(char)) return null;
  return sanitizeForTerminal(char) === char ? char : null;
}
