// This module is browser compatible.

/**
 * Work done one piece after the other, in the order it came: a session's
 * chat lines are shown in the order they arrived, an end-to-end one opened
 * first and those after it waiting for it. A place can be held in that
 * order for something shown by other means (a file offer, once its key is
 * here and the user asked): what comes after it waits until it is let go.
 *
 * @module
 */

import { nameKey } from "../protocol/limits.ts";
import type { ServerMessage } from "../protocol/messages.ts";

/** A place held in turn (`InTurn.hold`, `placeAfter`). */
export interface Place {
  /** Settles once everything before the place has. */
  readonly ready: Promise<void>;
  /** Settles once the place is let go, or its bound passed. */
  readonly released: Promise<void>;
  /** Lets the place go: what waits behind it goes on (again: no effect). */
  release(): void;
  /** Not let go yet (neither released nor past its bound). */
  readonly held: boolean;
}

/**
 * The lane of what answers a history request (`laneOf`): no name, since
 * nameKey never gives a control character.
 */
export const HISTORY_LANE = "\u0000history";

/**
 * The lane (`InTurn`) of what `from` sent, names compared as the server
 * does; "" for what comes from no one. What answers a history request
 * (`asked`) has a lane of its own, whoever sent it: no place is held there,
 * so its messages are shown in the order they came. In their senders'
 * lanes, those of a sender with an offer waiting for its key were put
 * aside behind it, and the answer was shown out of order (an older line of
 * theirs after a newer one of someone else's).
 */
export function laneOf(from: string | undefined, asked = false): string {
  if (asked) return HISTORY_LANE;
  return from === undefined ? "" : nameKey(from);
}

/**
 * Whose lane (`laneOf`) a message the server sent goes in: its sender's,
 * or, for the notice that someone came or left (presence) or joined or
 * left a group (membership), theirs: said in the lane of no one, "mallory
 * left g" was shown before the line she sent before leaving, while an
 * offer of hers held her lines.
 */
export function laneNameOf(message: ServerMessage): string | undefined {
  if ("from" in message) return message.from;
  if (message.t === "presence" || message.t === "membership") {
    return message.name;
  }
  return undefined;
}

/**
 * A place after `before`: let go by `release`, or at the latest `boundMs`
 * after `before` settled (counted from there, so a long queue before it
 * does not use the bound up), so that nothing waits behind it for ever.
 */
export function placeAfter(before: Promise<void>, boundMs: number): Place {
  const released = Promise.withResolvers<void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  const release = () => {
    if (done) return;
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    released.resolve();
  };
  const ready = before.then(() => {}, () => {});
  void ready.then(() => {
    if (!done) timer = setTimeout(release, boundMs);
  });
  return {
    ready,
    released: released.promise,
    release,
    get held() {
      return !done;
    },
  };
}

/** One sender's lines in `InTurn`: how many came, how many are done. */
interface Lane {
  queued: number;
  finished: number;
  /** Settles once the last line given to the lane is done. */
  tail: Promise<void>;
}

/**
 * A session's lines, run one at a time in the order they came, each in
 * its sender's lane (`lane`, a name; "" for what comes from no one). A
 * place held for something shown by other means (`hold`) holds only its
 * own lane: a line that comes behind it from the same sender waits for it
 * (and then takes its turn again, behind what came meanwhile), while the
 * lines of others go on at once. One account that keeps offering files
 * whose keys never come (each holding its place up to 10 s) thus holds
 * back only its own lines, not everyone's. Without a place held, every
 * line runs in the order it came, whatever its lane.
 */
export class InTurn {
  /** The shared turn: what runs, one at a time. */
  #turn: Promise<void> = Promise.resolve();
  /** Lanes with a line not done yet (forgotten once all are). */
  readonly #lanes = new Map<string, Lane>();
  readonly #onError: (error: unknown) => void;

  /** `onError`: told of a piece that failed; those after it go on. */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /**
   * Runs `run` once everything before it has settled, or been put aside
   * behind a place held in its own lane (its sender's); settles once it
   * ran.
   */
  run(run: () => void | Promise<void>, lane = ""): Promise<void> {
    return this.#add(lane, run);
  }

  /**
   * Holds the next place in `lane`: what is run after it in that lane waits
   * until it is let go, or `boundMs` after everything before it settled
   * (`placeAfter`); other lanes go on.
   */
  hold(boundMs: number, lane = ""): Place {
    const turn = Promise.withResolvers<void>();
    const place = placeAfter(turn.promise, boundMs);
    void this.#add(lane, () => turn.resolve(), () => place.released);
    return place;
  }

  /** Settles once everything run so far has, places held included. */
  get settled(): Promise<void> {
    return Promise.all([
      this.#turn,
      ...[...this.#lanes.values()].map((lane) => lane.tail),
    ])
      .then(() => {});
  }

  /** Settles once everything run so far in `lane` has. */
  settledIn(lane: string): Promise<void> {
    return this.#lanes.get(lane)?.tail ?? Promise.resolve();
  }

  /**
   * Settles once everything run so far that `from` sent has, live (their
   * lane) or in a history answer (HISTORY_LANE, whoever sent it): a sender
   * key of theirs that came before is kept by then.
   */
  settledFrom(from: string): Promise<void> {
    return Promise.all([
      this.settledIn(laneOf(from)),
      this.settledIn(HISTORY_LANE),
    ]).then(() => {});
  }

  #add(
    key: string,
    run: () => void | Promise<void>,
    until?: () => Promise<void>,
  ): Promise<void> {
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { queued: 0, finished: 0, tail: Promise.resolve() };
      this.#lanes.set(key, lane);
    }
    const mine = lane;
    const index = mine.queued++;
    const before = mine.tail;
    const done = Promise.withResolvers<void>();
    mine.tail = done.promise;
    const finish = () => {
      mine.finished++;
      if (mine.finished === mine.queued && this.#lanes.get(key) === mine) {
        this.#lanes.delete(key);
      }
      done.resolve();
    };
    const go = async () => {
      try {
        await run();
      } catch (error) {
        this.#onError(error);
      }
      // A place lets its lane go on once released, not the shared turn.
      if (until === undefined) finish();
      else void until().then(finish, finish);
    };
    this.#queue(() => {
      if (mine.finished === index) return go();
      // Behind a place its sender's lines hold: put aside, so that the
      // lines of others after it are not held too; it runs once those
      // before it in its lane are done, behind what is queued by then.
      void before.then(() => this.#queue(go));
    });
    return done.promise;
  }

  #queue(run: () => void | Promise<void>): void {
    this.#turn = this.#turn.then(run).catch((error) => this.#onError(error));
  }
}
