/**
 * A small seeded random generator for property tests. Every fuzz test starts
 * from a fixed seed, so a failure reproduces; `FUZZ_SEED=<n>` explores another
 * part of the input space and `FUZZ_SCALE=<k>` runs k times as many cases.
 * A failing case reports the seed and the case number.
 */

/** sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded by splitmix32. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Nothing to pick from");
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A length that is usually small and sometimes large. */
  length(max: number): number {
    const roll = this.float();
    if (roll < 0.6) return this.int(Math.min(max, 16) + 1);
    if (roll < 0.9) return this.int(Math.min(max, 256) + 1);
    return this.int(max + 1);
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    // Without --allow-env the defaults apply.
    return undefined;
  }
}

/** The seed to use: FUZZ_SEED if set, else the test's own fixed seed. */
export function fuzzSeed(fallback: number): number {
  const given = env("FUZZ_SEED");
  if (given === undefined || given === "") return fallback;
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(`FUZZ_SEED must be an integer, got '${given}'`);
  }
  return seed;
}

/** `cases` times FUZZ_SCALE (default 1). */
export function fuzzCases(cases: number): number {
  const scale = Number(env("FUZZ_SCALE") ?? "1");
  return Math.max(1, Math.round(cases * (Number.isFinite(scale) ? scale : 1)));
}

/**
 * Runs `property` for `cases` cases from one seeded generator. A failure is
 * rethrown with the seed and case number, so `FUZZ_SEED=<seed>` replays it.
 */
export function forAll(
  name: string,
  seed: number,
  cases: number,
  property: (rng: Rng, index: number) => void,
): void {
  const rng = new Rng(fuzzSeed(seed));
  const count = fuzzCases(cases);
  for (let i = 0; i < count; i++) {
    try {
      property(rng, i);
    } catch (error) {
      const detail = error instanceof Error
        ? error.stack ?? error.message
        : String(error);
      throw new Error(
        `${name}: case ${i} of ${count} failed (FUZZ_SEED=${rng.seed}): ${detail}`,
        { cause: error },
      );
    }
  }
}
