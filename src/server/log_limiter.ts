// This module is browser compatible.

/**
 * Logs a kind of event once per key and interval: a flood of refusals must not
 * become a flood of log lines. What was held back is counted and reported with
 * the next line of that key.
 */
export class LogLimiter {
  #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    readonly sink: (line: string) => void,
    readonly intervalMs = 60_000,
    /** Keys remembered at most, so a stream of new keys cannot grow memory. */
    readonly maxKeys = 10_000,
  ) {}

  log(key: string, line: string, now = Date.now()): void {
    const seen = this.#last.get(key);
    if (seen !== undefined && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    if (seen === undefined && this.#last.size >= this.maxKeys) {
      // Forget the oldest entry (Map keeps insertion order).
      const oldest = this.#last.keys().next().value;
      if (oldest !== undefined) this.#last.delete(oldest);
    }
    const note = seen && seen.suppressed > 0
      ? ` (${seen.suppressed} similar not logged)`
      : "";
    this.#last.delete(key);
    this.#last.set(key, { at: now, suppressed: 0 });
    this.sink(line + note);
  }
}
