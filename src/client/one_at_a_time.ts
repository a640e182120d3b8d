// This module is browser compatible.

/**
 * Runs async work one piece at a time, in the order it was asked for: for a
 * read-modify-write of one file or record, where two at once would each
 * read the old text and the second write would drop the first's change
 * (two `/ignore` lines pasted together, say).
 */
export function oneAtATime(): <T>(work: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return (work) => {
    const turn = last.then(work);
    // A failure is its own caller's; the next piece runs all the same.
    last = turn.catch(() => {});
    return turn;
  };
}
