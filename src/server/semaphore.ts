// This module is browser compatible.

/**
 * At most `slots` tasks run at once; the rest wait in arrival order. Bounds
 * the CPU that costly work (an RSA decryption) can take, whoever asks.
 */
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly slots: number) {
    if (!Number.isSafeInteger(slots) || slots < 1) {
      throw new RangeError(`A semaphore needs at least one slot, got ${slots}`);
    }
    this.#free = slots;
  }

  /** Tasks running now. */
  get running(): number {
    return this.slots - this.#free;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` once a slot is free; the slot is freed however it ends. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The slot passes straight to the next in line, if any.
      const next = this.#waiting.shift();
      if (next === undefined) this.#free++;
      else next();
    }
  }
}
