// This module is browser compatible.

/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. A short
 * burst passes; a steady flood is held to the rate.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes one token if there is one. A rate of 0 means no limit. */
  take(now: number): boolean {
    if (this.rate === 0) return true;
    const elapsed = Math.max(0, now - this.#last) / 1000;
    this.#last = now;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
