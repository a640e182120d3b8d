// This module is browser compatible.

/**
 * Look-alike names: two names (limits.ts NAME_PATTERN) look alike when their
 * skeletons are equal, after Unicode TR39's confusable detection
 * (https://www.unicode.org/reports/tr39/#Confusable_Detection) restricted to
 * the characters a name may hold. The server refuses to bind a new name that
 * looks like one another identity key owns (docs/PROTOCOL.md 8, "Look-alike
 * names").
 *
 * A skeleton is for comparing only, never for showing: `mallory` has the
 * skeleton `rnallory`.
 *
 * Why the fold starts from the lower case: names are unique ignoring case
 * (`nameKey`) and a user may sign in with any casing of their name, each time
 * another. So whatever one casing of a name can be made to look like, the
 * name can: `neil` can be shown as `NeIl` (capital i), which reads `Nell`.
 * TR39 skeletons keep case (`I` -> `l` but `i` stays); ours cannot, so `i`
 * folds with `I`, and everything is compared in the lower case.
 */

/**
 * One character for another, after lower-casing (TR39 maps `0` -> `O`,
 * `1` -> `l`, `I` -> `l`, `|` -> `l`; `|` cannot be in a name).
 * - `0` -> `o`: the digit zero and the letter o (O) are one round glyph in
 *   most proportional fonts and in many terminal fonts without a slashed zero.
 * - `1`, `i` -> `l`: one vertical stroke; `i` because of `I` (see above).
 * Left as they are, deliberately:
 * - `5`/`s`, `2`/`z`, `8`/`b`, `6`/`b`, `9`/`g`: "leet" spellings, but
 *   distinct glyphs in every font, and TR39 does not list them; folding them
 *   would refuse honest names (`jo5h` is not read as `josh`).
 * - `.`, `_`, `-`: visibly different in every font (baseline, mid-line, dot)
 *   and TR39 maps none of them to another; `alice_` and `alice-` are both as
 *   plainly not `alice` as they are not each other, and a rule that folded
 *   them would refuse names like `j.doe` beside an unrelated `j_doe`.
 */
const FOLDED_CHARACTERS: Readonly<Record<string, string>> = {
  "0": "o",
  "1": "l",
  "i": "l",
};

/**
 * One character for two, as TR39 does (`m` -> `rn`): the skeleton expands the
 * single letter rather than contracting the pair, so that overlapping runs
 * still meet: `vw`, `wv` and `vvv` all become `vvv`, where contracting
 * `vv` -> `w` would give `vw`, `wv` and `wv`.
 * - `m` -> `rn` (TR39): `r` and `n` set close read as `m` in most fonts.
 * - `w` -> `vv`: two `v`s read as `w` (`VV` as `W` too).
 * - `d` -> `cl`: `c` then a stroke reads as `d` (`cl`, `c1`, `cI`).
 * Not taken: `nn` -> `m` (the two humps stay apart: not in TR39 either),
 * `ci` -> `a` (only at tiny sizes).
 */
const EXPANDED_CHARACTERS: Readonly<Record<string, string>> = {
  "m": "rn",
  "w": "vv",
  "d": "cl",
};

/**
 * The skeleton of a name: equal skeletons look alike. Total on any string;
 * pure. Lower-cases, then replaces each character by its entry in the
 * tables above (after the single-character fold, so `c1` -> `cl`, and
 * `d` -> `cl` makes both read the same).
 */
export function nameSkeleton(name: string): string {
  let skeleton = "";
  for (const character of name.toLowerCase()) {
    const folded = FOLDED_CHARACTERS[character] ?? character;
    skeleton += EXPANDED_CHARACTERS[folded] ?? folded;
  }
  return skeleton;
}

/** True when `a` and `b` look alike (equal skeletons), whatever their case. */
export function looksAlike(a: string, b: string): boolean {
  return nameSkeleton(a) === nameSkeleton(b);
}
