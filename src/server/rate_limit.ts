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

  /**
   * Takes `tokens` (one by default) if there is at least one: a message that
   * weighs more than one (an `ack` of many cursors) passes on one and leaves
   * the bucket in debt, all of it (down to 1 - `tokens`: the caller bounds
   * the weight), so that the rate holds over time. Cut at one burst, an ack
   * with held cursors (81 tokens) paid 41 of a connection's 40-token burst,
   * and a flood of them applied twice the cursors the rate allows. A rate of
   * 0 means no limit.
   */
  take(now: number, tokens = 1): boolean {
    if (!this.peek(now)) return false;
    if (this.rate !== 0) this.#tokens -= tokens;
    return true;
  }

  /**
   * Takes `tokens` taken for the same sender elsewhere (another node of a
   * cluster), into debt down to one burst: the rate then holds for both.
   */
  charge(tokens: number, now: number): void {
    if (this.rate === 0) return;
    this.peek(now);
    this.#tokens = Math.max(-this.burst, this.#tokens - tokens);
  }

  /** Milliseconds until there is a token to take (0: there is one now). */
  msUntilToken(now: number): number {
    if (this.peek(now)) return 0;
    return Math.ceil(((1 - this.#tokens) / this.rate) * 1000);
  }

  /** Milliseconds until the bucket is full again (0: it is now). */
  msUntilFull(now: number): number {
    if (this.rate === 0) return 0;
    this.peek(now);
    return Math.max(0, ((this.burst - this.#tokens) / this.rate) * 1000);
  }

  /** Whether there is a token to take, taking none. */
  peek(now: number): boolean {
    if (this.rate === 0) return true;
    const elapsed = Math.max(0, now - this.#last) / 1000;
    this.#last = now;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate);
    return this.#tokens >= 1;
  }
}

/**
 * One {@link TokenBucket} per key (an address group), for limits that must
 * hold per sender rather than per connection. The map stays bounded: a
 * bucket left alone long enough to be full again is the same as a new one,
 * so it is dropped, and past `maxKeys` the longest idle go first.
 *
 * "Long enough" is the longest any bucket was left from full
 * ({@link KeyedTokenBuckets.holdMs}), not one burst's refill: a heavy
 * request (an `ack` of many cursors, a long `list`) leaves its bucket in
 * debt, and one dropped a refill after its last use was forgiven that
 * debt: an address pausing 2 s between bursts of them paid nothing. One
 * hold for all keeps the map in order of last use, so what is dropped is
 * always at its front (O(1) a call); it is bounded because the debt is
 * (a request's weight, which its caller bounds, or one burst: charge), and
 * with it the buckets kept: those used within it, `maxKeys` at most.
 */
export class KeyedTokenBuckets {
  // In order of last use (a used key moves to the end): the idle come first.
  readonly #buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  #holdMs: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly maxKeys = 100_000,
  ) {
    this.#holdMs = rate === 0 ? 0 : (burst / rate) * 1000;
  }

  /** Buckets held now. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * How long an idle bucket is kept: the longest any was left from full
   * (one burst's refill at least).
   */
  get holdMs(): number {
    return this.#holdMs;
  }

  /** Takes `tokens` from `key`'s bucket if it has one ({@link TokenBucket.take}). */
  take(key: string, now: number, tokens = 1): boolean {
    if (this.rate === 0) return true;
    const { bucket } = this.#use(key, now);
    const taken = bucket.take(now, tokens);
    this.#hold(bucket, now);
    return taken;
  }

  /** Whether `key`'s bucket has a token to take, taking none. */
  peek(key: string, now: number): boolean {
    if (this.rate === 0) return true;
    return this.#buckets.get(key)?.bucket.peek(now) ?? true;
  }

  /** Charges `key`'s bucket with tokens taken elsewhere ({@link TokenBucket.charge}). */
  charge(key: string, tokens: number, now: number): void {
    if (this.rate === 0 || tokens <= 0) return;
    const { bucket } = this.#use(key, now);
    bucket.charge(tokens, now);
    this.#hold(bucket, now);
  }

  /** `key`'s entry (a new one if none), moved to the end as used `now`. */
  #use(key: string, now: number): { bucket: TokenBucket; used: number } {
    this.#expire(now);
    const entry = this.#buckets.get(key) ?? {
      bucket: new TokenBucket(this.rate, this.burst, now),
      used: now,
    };
    this.#buckets.delete(key);
    entry.used = now;
    this.#buckets.set(key, entry);
    return entry;
  }

  /** Keeps idle buckets as long as `bucket`, just used, needs to be full. */
  #hold(bucket: TokenBucket, now: number): void {
    this.#holdMs = Math.max(this.#holdMs, bucket.msUntilFull(now));
  }

  #expire(now: number): void {
    for (const [key, { used }] of this.#buckets) {
      if (this.#buckets.size < this.maxKeys && now - used < this.#holdMs) {
        break;
      }
      this.#buckets.delete(key);
    }
  }
}
