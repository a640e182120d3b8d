// This module is browser compatible.

/**
 * The lines a user typed, kept for the next session (Up arrow, Ctrl-R):
 * oldest first, one per line of the history file, at most
 * {@linkcode MAX_HISTORY_LINES}, a line typed again moved to the end.
 *
 * Not kept: blank lines, lines of a multi-line paste (several lines pasted
 * at once are a blob, maybe a key or a log, not something to recall), and
 * lines that look like secrets (a PEM block, a long unbroken token of
 * base64 or hex, `password=...`).
 *
 * @module
 */

export const MAX_HISTORY_LINES = 1000;
/** A line longer than this is a paste, not something typed to recall. */
export const MAX_HISTORY_LINE_CHARS = 2000;

const SECRET_PATTERNS = [
  /-----BEGIN [A-Z ]+-----/,
  // An unbroken token: API keys, JWTs, private keys in base64 or hex.
  /[A-Za-z0-9+/=_-]{40,}/,
  /\b(pass(word|wd)?|secret|token|api[_-]?key)\s*[:=]/i,
];

/** Whether `line` may be written to the history file. */
export function rememberable(line: string): boolean {
  if (line.trim() === "" || /[\r\n]/.test(line)) return false;
  if (line.length > MAX_HISTORY_LINE_CHARS) return false;
  return !SECRET_PATTERNS.some((pattern) => pattern.test(line));
}

/** The lines in a history file's text, oldest first, the newest `cap` kept. */
export function parseHistory(
  text: string,
  cap = MAX_HISTORY_LINES,
): string[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  return lines.slice(Math.max(0, lines.length - cap));
}

/**
 * `lines` (oldest first) with `line` added at the end, an earlier copy of it
 * removed, the oldest dropped beyond `cap`. Unchanged if `line` is not
 * {@link rememberable}.
 */
export function addToHistory(
  lines: readonly string[],
  line: string,
  cap = MAX_HISTORY_LINES,
): string[] {
  if (!rememberable(line)) return [...lines];
  const next = lines.filter((l) => l !== line);
  next.push(line);
  return next.slice(Math.max(0, next.length - cap));
}

/** The file's text for `lines` (oldest first). */
export function formatHistory(lines: readonly string[]): string {
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}
