// This module is browser compatible.

/**
 * The order names are listed in on a terminal and the web page (/list,
 * /showgroups, /showgroupmembers, Tab's choices): natural and
 * locale-aware, so `bot2` comes before `bot10` and `Émile` beside `emile`,
 * where comparing code points put `bot10` first and every accented or
 * capitalised name apart.
 *
 * @module
 */

const collator = new Intl.Collator(undefined, {
  numeric: true,
  sensitivity: "base",
});

/**
 * Compares two names for sorting: as the collator does, and names it
 * holds equal (`Bob`, `bob`) by their code points, so that the order never
 * depends on the order they came in.
 */
export function compareNames(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** `names` sorted by {@linkcode compareNames}; the array given is left as it is. */
export function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort(compareNames);
}
