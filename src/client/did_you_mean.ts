// This module is browser compatible.

/**
 * "Did you mean /msg?" for a mistyped command: the closest known name by
 * edit distance, where swapping two neighbouring letters (`/mgs`) counts as
 * one edit, as it is one slip of the fingers.
 *
 * @module
 */

/**
 * Edits (insert, delete, replace, swap two neighbours) that turn `a` into
 * `b`: the optimal string alignment distance, compared ignoring case.
 */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  // rows[i][j]: distance between x's first i and y's first j characters.
  const rows: number[][] = [];
  for (let i = 0; i <= x.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= y.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let best = Math.min(
        rows[i - 1]![j]! + 1,
        row[j - 1]! + 1,
        rows[i - 1]![j - 1]! + cost,
      );
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[x.length]![y.length]!;
}

/**
 * The candidate closest to `word`, or null when none is close enough to be a
 * slip: at most 2 edits, and fewer than the word's own length (so `/x` does
 * not suggest every two-letter command). Ties go to the earlier candidate.
 */
export function didYouMean(
  word: string,
  candidates: readonly string[],
): string | null {
  const limit = slipLimit(word);
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // Cheap bound first: a line of any length may be typed as a command.
    if (Math.abs(candidate.length - word.length) > limit) continue;
    const distance = editDistance(word, candidate);
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * The one candidate close enough to `word` to be a slip (as didYouMean
 * measures), or null when none is or several are: between two names a
 * suggestion would be a guess, and a wrong one sends a private line to
 * someone else.
 */
export function onlyOneClose(
  word: string,
  candidates: Iterable<string>,
): string | null {
  const limit = slipLimit(word);
  let found: string | null = null;
  for (const candidate of candidates) {
    if (Math.abs(candidate.length - word.length) > limit) continue;
    if (editDistance(word, candidate) > limit) continue;
    if (found !== null) return null;
    found = candidate;
  }
  return found;
}

/** The most edits a slip makes: 2, and fewer than the word's own length. */
function slipLimit(word: string): number {
  return Math.min(2, Math.max(0, word.replace(/^\//, "").length - 1));
}
