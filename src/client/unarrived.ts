// This module is browser compatible.

/**
 * End-to-end messages that never came: a message opened on a ratchet chain
 * (private) or a sender-key chain (group) says how many of its sender's
 * messages came before it, so the keys it made the receiver skip are
 * messages sent to them that the server did not deliver. A host can drop
 * one for good, and everything after it still opens; this is how the
 * receiver hears of the hole.
 *
 * Each chain step that skipped keys is one gap. A gap's messages still
 * missing {@link UNARRIVED_GRACE_MS} after it was seen are said once: the
 * server delivers a sender's messages in order, so honest reordering is
 * rare, but a late copy (a history answer, a held message released) may
 * still come, and is then said to have come late. The gaps of one sender
 * (and group) seen within {@link UNARRIVED_GRACE_MS} of the first are one
 * window, said in one line once the last of them is due: a host dropping
 * every other of 100 messages makes 50 gaps, and one line, not 50.
 * Never "withheld": the client cannot know why a message did not come.
 *
 * @module
 */

/** How long a skipped message may still come before it is said missing. */
export const UNARRIVED_GRACE_MS = 5_000;

/**
 * The most skipped messages followed in all: as many as the private and
 * group keys kept together (e2e_state.ts, group_sessions.ts), the oldest
 * forgotten first: no longer known late if they come, but still counted in
 * their gap's line if it is not said yet.
 */
export const MAX_UNARRIVED = 20_000;

/** Who a gap's messages are from, and where (null: a private message). */
export interface GapSource {
  from: string;
  group: string | null;
}

interface Gap {
  missing: Set<string>;
  /**
   * Its messages forgotten at {@link MAX_UNARRIVED} before it was said:
   * still not come. Another sender skipping that many (a host can make
   * one) hid the hole otherwise.
   */
  forgotten: number;
  saidMissing: boolean;
  window: Window;
}

/** The gaps of one source seen within the grace of its first. */
interface Window {
  source: GapSource;
  /** When its first gap was seen (performance.now()). */
  opened: number;
  gaps: Set<Gap>;
  timer: ReturnType<typeof setTimeout> | null;
}

export interface UnarrivedOptions {
  /** Shows `line`, about `count` messages from `source` not come. */
  say: (source: GapSource, count: number, line: string) => void;
  graceMs?: number;
}

/** The gaps seen, until their messages come or are said missing. */
export class UnarrivedMessages {
  readonly #o: UnarrivedOptions;
  readonly #byId = new Map<string, Gap>();
  /** The window gaps of each source join, while it is open. */
  readonly #open = new Map<string, Window>();
  /** Every window not said yet (an older one of a source is still due). */
  readonly #windows = new Set<Window>();
  /** Positions of messages that came and did not open, not seen skipped. */
  readonly #unopened = new Set<string>();

  constructor(options: UnarrivedOptions) {
    this.#o = options;
  }

  get #graceMs(): number {
    return this.#o.graceMs ?? UNARRIVED_GRACE_MS;
  }

  /**
   * A message from `source` skipped `ids` (the keys it made us keep, each
   * unique to its chain position): one gap, said unless they come in time.
   */
  skipped(source: GapSource, ids: readonly string[]): void {
    // One that came and did not open was said then, as an error.
    const fresh = ids.filter((id) =>
      !this.#byId.has(id) && !this.#unopened.delete(id)
    );
    if (fresh.length === 0) return;
    const window = this.#windowOf(source);
    const gap: Gap = {
      missing: new Set(fresh),
      forgotten: 0,
      saidMissing: false,
      window,
    };
    for (const id of fresh) this.#byId.set(id, gap);
    window.gaps.add(gap);
    // Said once its last gap had its whole grace.
    if (window.timer !== null) clearTimeout(window.timer);
    window.timer = setTimeout(() => this.#due(window), this.#graceMs);
    // Maps iterate in insertion order: the first ids are the oldest.
    for (const old of this.#byId.keys()) {
      if (this.#byId.size <= MAX_UNARRIVED) break;
      this.#forgetAtCap(old);
    }
  }

  /**
   * The message `id` came after all: whether it had been said missing (its
   * line then says it came late).
   */
  arrived(id: string): boolean {
    const gap = this.#byId.get(id);
    if (gap === undefined) return false;
    this.#forget(id);
    return gap.saidMissing;
  }

  /**
   * The message `id` came but could not be opened (its header's word, said
   * as an error where it came): not missing, whether its gap was seen before
   * or is seen with a later message.
   */
  unopened(id: string): void {
    if (this.#byId.has(id)) {
      this.#forget(id);
      return;
    }
    this.#unopened.add(id);
    for (const old of this.#unopened) {
      if (this.#unopened.size <= MAX_UNARRIVED) break;
      this.#unopened.delete(old);
    }
  }

  /** No more lines: the session ends. */
  close(): void {
    for (const window of this.#windows) {
      if (window.timer !== null) clearTimeout(window.timer);
    }
    this.#windows.clear();
    this.#open.clear();
    this.#unopened.clear();
    this.#byId.clear();
  }

  /** The open window of `source`, or a new one: one line per window. */
  #windowOf(source: GapSource): Window {
    const key = JSON.stringify([source.from, source.group]);
    const now = performance.now();
    const open = this.#open.get(key);
    if (open !== undefined && now - open.opened < this.#graceMs) return open;
    const window: Window = {
      source: { from: source.from, group: source.group },
      opened: now,
      gaps: new Set(),
      timer: null,
    };
    this.#open.set(key, window);
    this.#windows.add(window);
    return window;
  }

  #forget(id: string): void {
    const gap = this.#byId.get(id);
    if (gap === undefined) return;
    this.#byId.delete(id);
    gap.missing.delete(id);
    if (gap.missing.size > 0 || gap.forgotten > 0) return;
    const window = gap.window;
    window.gaps.delete(gap);
    if (window.gaps.size > 0 || gap.saidMissing) return;
    if (window.timer !== null) clearTimeout(window.timer);
    this.#drop(window);
  }

  /**
   * `id` no longer followed (the cap): not known late if it comes, but
   * still counted missing when its gap is said.
   */
  #forgetAtCap(id: string): void {
    const gap = this.#byId.get(id);
    if (gap === undefined) return;
    this.#byId.delete(id);
    gap.missing.delete(id);
    if (!gap.saidMissing) gap.forgotten++;
  }

  #drop(window: Window): void {
    this.#windows.delete(window);
    const key = JSON.stringify([window.source.from, window.source.group]);
    if (this.#open.get(key) === window) this.#open.delete(key);
  }

  #due(window: Window): void {
    window.timer = null;
    this.#drop(window);
    let count = 0;
    for (const gap of window.gaps) {
      gap.saidMissing = true;
      count += gap.missing.size + gap.forgotten;
    }
    if (count === 0) return;
    this.#o.say(window.source, count, unarrivedLine(window.source, count));
  }
}

/** The line for `count` messages from `source` that have not come. */
export function unarrivedLine(source: GapSource, count: number): string {
  const one = count === 1;
  const where = source.group === null ? "" : ` in ${source.group}`;
  return `${
    one ? "1 message" : `${count} messages`
  } from ${source.from}${where} ${
    one ? "has" : "have"
  } not arrived (the server may have held ${one ? "it" : "them"} back)`;
}

/** Said after a message that came once said missing. */
export function cameLateLine(source: GapSource): string {
  const where = source.group === null ? "" : ` in ${source.group}`;
  return `That message from ${source.from}${where} came late: it is one said not to have arrived`;
}

/** The ids in `after` and not in `before`. */
export function added<T>(
  before: ReadonlyMap<T, unknown>,
  after: ReadonlyMap<T, unknown>,
): T[] {
  return [...after.keys()].filter((key) => !before.has(key));
}

/**
 * The kept key a message was opened with: the id in `before` and no longer
 * in `after`, if it skipped none. A message that skipped keys was opened on
 * a new one, and the kept ones it pushed out (the ratchet's and a group
 * chain's cap, oldest first) are forgotten, never come: said to have come
 * late, the message would be taken for one it is not.
 */
export function openedWithKept<T>(
  before: ReadonlyMap<T, unknown>,
  after: ReadonlyMap<T, unknown>,
): T[] {
  return added(before, after).length > 0 ? [] : removed(before, after);
}

/** The ids in `before` and no longer in `after`. */
export function removed<T>(
  before: ReadonlyMap<T, unknown>,
  after: ReadonlyMap<T, unknown>,
): T[] {
  return [...before.keys()].filter((key) => !after.has(key));
}
