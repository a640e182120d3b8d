// This module is browser compatible.

/**
 * Ctrl-R: incremental reverse search through the input history, as in bash.
 * Each key typed narrows the query and the newest line containing it is
 * shown; Ctrl-R again goes to the next older match; Enter takes the line,
 * Escape or Ctrl-G puts back what was being typed. node:readline has none,
 * so the terminal drives this state and draws its prompt. Pure.
 *
 * @module
 */

export interface ReverseSearch {
  readonly query: string;
  /** Index into the history (oldest first) of the line shown, or null if none matches. */
  readonly match: number | null;
  /** No line matches the query. */
  readonly failed: boolean;
}

/** The newest line before index `before` that contains `query`, or null. */
export function findBackward(
  history: readonly string[],
  query: string,
  before: number,
): number | null {
  for (let i = Math.min(before, history.length) - 1; i >= 0; i--) {
    if (history[i]!.includes(query)) return i;
  }
  return null;
}

export function startSearch(): ReverseSearch {
  return { query: "", match: null, failed: false };
}

/** The query with `text` typed at its end: the newest match from the one shown. */
export function typeInSearch(
  history: readonly string[],
  state: ReverseSearch,
  text: string,
): ReverseSearch {
  const query = state.query + text;
  // The line shown may still match the longer query.
  const from = state.match === null ? history.length : state.match + 1;
  const match = findBackward(history, query, from);
  return match === null
    ? { query, match: state.match, failed: true }
    : { query, match, failed: false };
}

/** Backspace: the query one character shorter, searched again from the newest. */
export function eraseInSearch(
  history: readonly string[],
  state: ReverseSearch,
): ReverseSearch {
  const query = [...state.query].slice(0, -1).join("");
  if (query === "") return startSearch();
  const match = findBackward(history, query, history.length);
  return { query, match, failed: match === null };
}

/** Ctrl-R again: the next older line that matches. */
export function searchOlder(
  history: readonly string[],
  state: ReverseSearch,
): ReverseSearch {
  if (state.query === "") return state;
  const match = findBackward(
    history,
    state.query,
    state.match ?? history.length,
  );
  return match === null
    ? { ...state, failed: true }
    : { query: state.query, match, failed: false };
}

/** The prompt while searching, as bash shows it. */
export function searchPrompt(state: ReverseSearch): string {
  return `(${state.failed ? "failed " : ""}reverse-i-search)'${state.query}': `;
}

/** The line shown for `state`: the match, or `typed` when there is none yet. */
export function searchLine(
  history: readonly string[],
  state: ReverseSearch,
  typed: string,
): string {
  return state.match === null ? typed : history[state.match]!;
}
