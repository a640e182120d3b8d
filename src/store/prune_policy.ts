/**
 * What the store's size cap does next, as pure choices (store_cap.ts runs
 * them): when to read the size, which messages a check deletes first, how
 * a sweep of the whole table moves on, and what the operator is told.
 */

/** Pruning goes down to this part of the cap, so it does not run at every check. */
export const CAP_TARGET = 0.9;

/**
 * A check's next step. Each batch of pruning is the first of these, in
 * this order, that finds something to do (a step that finds nothing falls
 * through to the next one, in the same batch):
 * - `public`: the oldest public messages but the newest (public history is
 *   open to all: no one is owed it);
 * - `sweep`: a window of message ids, when the candidates may miss some;
 * - `candidates`: messages that may now be owed to no one;
 * - `give_up`: the oldest messages waiting for the users owed the most
 *   (only past the cap itself: it loses them);
 * - `stop`: under the target (`done`), out of batches or time (`later`),
 *   or only what cannot be deleted is left (`nothing_deletable`).
 */
export type PruneStep =
  | { kind: "public" }
  | { kind: "sweep" }
  | { kind: "candidates" }
  | { kind: "give_up" }
  | { kind: "stop"; reason: "done" | "later" | "nothing_deletable" };

export interface PruneState {
  /** Bytes in use now, and the cap. */
  used: number;
  maxBytes: number;
  /** Batches that did something in this check, and how many at most. */
  batch: number;
  batches: number;
  /** Whether this check's time was up when its current batch began. */
  outOfTime: boolean;
  /** A public batch of this check deleted nothing (none appear meanwhile). */
  publicExhausted: boolean;
  /** Whether the candidates may miss some: a sweep of the table first. */
  scanAll: boolean;
  /** Candidates left for this check. */
  queued: number;
  /** Giving up waiting messages in this check found nothing to give up. */
  givenUpAll: boolean;
}

export function nextPruneStep(state: PruneState): PruneStep {
  if (state.used <= state.maxBytes * CAP_TARGET) {
    return { kind: "stop", reason: "done" };
  }
  if (state.batch >= state.batches || state.outOfTime) {
    return { kind: "stop", reason: "later" };
  }
  if (!state.publicExhausted) return { kind: "public" };
  if (state.scanAll) return { kind: "sweep" };
  if (state.queued > 0) return { kind: "candidates" };
  // Only messages still owed are left: rather than refuse everyone's new
  // messages, give up the oldest waiting for those owed the most; those
  // no one else waits for are candidates of the next batch.
  if (state.used > state.maxBytes && !state.givenUpAll) {
    return { kind: "give_up" };
  }
  return { kind: "stop", reason: "nothing_deletable" };
}

/** Where a sweep of the whole table stands: whether on, and past which id. */
export interface Sweep {
  scanAll: boolean;
  scanAfter: number;
}

/**
 * The sweep after one window (ids past `from`, up to `to`) found `found`
 * deletable ids, at most `batch` of them: on from the last found if the
 * window had more, else from the window's end, and over once the window
 * reached the last message id.
 */
export function nextSweep(
  from: number,
  to: number,
  found: readonly number[],
  batch: number,
  lastId: number,
): Sweep {
  if (found.length === batch) {
    return { scanAll: true, scanAfter: Math.max(from, ...found) };
  }
  if (to < lastId) return { scanAll: true, scanAfter: to };
  return { scanAll: false, scanAfter: 0 };
}

/** Whether a commit reads the size: every `every` commits or `ms` apart. */
export function capCheckDue(
  commitsSinceCheck: number,
  every: number,
  msSinceCheck: number,
  ms: number,
): boolean {
  return commitsSinceCheck >= every || msSinceCheck >= ms;
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/** The line for the store turning full (`full`) or having room again. */
export function fullNotice(
  full: boolean,
  used: number,
  maxBytes: number,
): string {
  return full
    ? `The store is full (${mib(used)} MiB in use, its cap is ${
      mib(maxBytes)
    } MiB) with what it cannot delete (accounts, groups, keys): new messages are refused until the cap is raised (--max-store-mb)`
    : `The store has room again (${
      mib(used)
    } MiB in use): new messages are accepted`;
}

/** The line for starting to give up messages still owed. */
export function givingUpNotice(
  used: number,
  maxBytes: number,
  users: number,
  fullest: { userKey: string; bytes: number },
): string {
  return `The store is at its cap (${mib(used)} MiB in use, its cap is ${
    mib(maxBytes)
  } MiB) and holds only messages still owed: giving up the oldest waiting for the ${users} user(s) owed the most (${fullest.userKey}: ${
    mib(fullest.bytes)
  } MiB waiting), who are told when they sign in; raise --max-store-mb to keep more`;
}
