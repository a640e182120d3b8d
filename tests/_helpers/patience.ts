/**
 * How long a test waits for something a quiet machine gives within a second
 * or two: a server's reply, a line a process prints, a row on the page.
 *
 * CI runs on a 2-core machine, and helpers run tests side by side there at
 * load averages of 10 to 30: a process then gets a core a tenth of the time
 * or less, and a reply that takes 0.3 s on a quiet machine can take several
 * seconds (the 5 s waits the helpers had failed at load 20-29). Each wait is
 * for a condition, so a generous one costs nothing when things work; a real
 * hang still fails the test, after this long, saying what it waited for.
 */
export const WAIT_MS = 30_000;
