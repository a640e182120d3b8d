// This module is browser compatible.

/**
 * What the server has queued for all its recipients together, held to a
 * bound by not reading the senders that feed it (as ngircd does): past
 * `highBytes` the gauge turns to "held" and the server stops reading every
 * connection; once what is queued drains below `lowBytes` it flows again.
 * Without it, each recipient stays under its own cut-off (maxBacklogBytes)
 * while the sum over a few hundred grows without bound.
 *
 * The bytes are counted where they wait: sealed frames handed to a socket and
 * not yet written (the edge adds them on send and takes them off when the
 * socket has written them, or when it is gone), and messages queued in a
 * channel, not yet sealed. The same message queued for 99 recipients counts
 * 99 times: it is sealed 99 times.
 */
export class QueueGauge {
  #bytes = 0;
  #peak = 0;
  #held = false;
  #closed = false;
  #waiters: (() => void)[] = [];
  readonly #listeners: ((held: boolean) => void)[] = [];

  /** `highBytes` 0: no bound (the gauge still counts). */
  constructor(readonly highBytes: number, readonly lowBytes: number) {
    if (!(lowBytes >= 0 && lowBytes <= highBytes)) {
      throw new RangeError("The low-water mark must be within 0 .. highBytes");
    }
  }

  /** Bytes queued now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The most ever queued at once (for tests and the bench). */
  get peak(): number {
    return this.#peak;
  }

  /** Whether senders are being held back now. */
  get held(): boolean {
    return this.#held;
  }

  add(bytes: number): void {
    this.#bytes += bytes;
    if (this.#bytes > this.#peak) this.#peak = this.#bytes;
    if (
      !this.#held && !this.#closed && this.highBytes > 0 &&
      this.#bytes > this.highBytes
    ) {
      this.#set(true);
    }
  }

  remove(bytes: number): void {
    this.#bytes -= bytes;
    if (this.#held && this.#bytes <= this.lowBytes) this.#set(false);
  }

  /** Called with true when senders must be held back, false when released. */
  onChange(listener: (held: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves at once when flowing, else once what is queued has drained. */
  flowing(): Promise<void> {
    if (!this.#held) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Lets senders go for good, whatever is queued (the server is stopping:
   * goodbyes and closes must be read); the gauge still counts.
   */
  close(): void {
    this.#closed = true;
    if (this.#held) this.#set(false);
  }

  #set(held: boolean): void {
    this.#held = held;
    for (const listener of this.#listeners) listener(held);
    if (held) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * A recipient at a look: its id, the bytes queued for it, and, where known,
 * the bytes it has taken so far (a count that only grows: Connection.taken).
 */
export type StallLook<Id> = readonly [
  id: Id,
  backlog: number,
  taken?: number | undefined,
];

/**
 * Which recipients to cut off when senders have been held back a whole stall
 * period: only those that took nothing in that period, the most queued
 * first, each with how many periods in a row it has taken nothing
 * (`periods`). One that took something is not: under a flood the server's
 * own sealing, or a machine shared with the clients, can take longer than a
 * stall period to drain half the bound, and cutting the recipient with the
 * most queued then cut healthy clients (1,688 in one bench cell, issue 21).
 * What it took is what it is said to have taken (`taken`), else what is
 * queued for it falling: that also grows by what senders sent before they
 * were held, and under load a slow reader's grew by more than it read in a
 * period (slow_reader_stall_test: cut after 91 of 400 messages).
 */
export class StallWatch<Id> {
  #last = new Map<Id, StallLook<Id>>();
  /** Of the stuck at the last look, how many looks in a row each was. */
  #streaks = new Map<Id, number>();

  /** Forgets what was seen: call when senders are held back anew. */
  start(looks: Iterable<StallLook<Id>>): void {
    this.#last = new Map([...looks].map((look) => [look[0], look]));
    this.#streaks = new Map();
  }

  /** How many looks in a row `id` was stuck, up to the last (0: it moved). */
  periods(id: Id): number {
    return this.#streaks.get(id) ?? 0;
  }

  /**
   * Told each connection now (a stall period after the last look), the
   * stuck one with the most queued, or null: all moved.
   */
  stuck(looks: Iterable<StallLook<Id>>): Id | null {
    return this.allStuck(looks)[0] ?? null;
  }

  /**
   * Told each connection now (a stall period after the last look), every
   * stuck one, the most queued first: none when all moved.
   */
  allStuck(looks: Iterable<StallLook<Id>>): Id[] {
    const stuck: [Id, number][] = [];
    const seen = new Map<Id, StallLook<Id>>();
    for (const look of looks) {
      const [id, backlog, taken] = look;
      seen.set(id, look);
      const before = this.#last.get(id);
      if (before === undefined || backlog <= 0) continue;
      const moved = taken !== undefined && before[2] !== undefined
        ? taken > before[2]
        : backlog < before[1];
      if (!moved) stuck.push([id, backlog]);
    }
    this.#last = seen;
    const streaks = new Map<Id, number>();
    for (const [id] of stuck) streaks.set(id, (this.#streaks.get(id) ?? 0) + 1);
    this.#streaks = streaks;
    return stuck.sort((a, b) => b[1] - a[1]).map(([id]) => id);
  }
}
