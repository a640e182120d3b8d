// This module is browser compatible.

/**
 * End-to-end messages a client leaves on the server because it has no
 * usable keys of its own (docs/PROTOCOL.md 5.9): why it has none, whether a
 * message is left or tried, and the one line that tells the user what
 * waits, for a burst of them rather than a line each. Copies in answers to
 * `history` requests are not left (UnopenedHistory): they are not what
 * waits.
 *
 * @module
 */

/** Why a client has no end-to-end keys of its own to open a message with. */
export type KeysMissing =
  /** Another chat connect signed in as this name holds them (e2e_lock.ts). */
  | { kind: "other_process"; pid: number | null }
  /** Another tab of this browser holds them (one tab uses them at a time). */
  | { kind: "other_tab" }
  /** This browser has them but could not open them (damaged, unreadable). */
  | { kind: "unopened" };

/**
 * What a client does with an end-to-end message, given its own keys.
 *
 * The two ways a message goes unread are told apart here on purpose, since
 * one is acknowledged and the other is not:
 * - `await`: the client has no usable keys of its own. The message is fine;
 *   this client just cannot try it. It is NOT acknowledged, so the server
 *   keeps it and sends it again to a sign-in that has the keys; acknowledged,
 *   the server would delete it, and it would be lost.
 * - `open`: the client has its keys and tries. What then fails to open
 *   (forged, damaged, sealed for an old key, a session it never had) is
 *   acknowledged and reported (E2eSessions, GroupSessions `refused`): it
 *   would fail again every time it came, and, never acknowledged, it would
 *   hold its conversation's cursor back for good.
 */
export type Openable<K> =
  | { kind: "open"; keys: K }
  | { kind: "await"; missing: KeysMissing };

/**
 * Counts what is left for the keys and says it in one line per burst (what
 * waited at the sign-in comes in one): `add` each message with its sender;
 * when it returns true, call `line` in turn after the messages of that burst
 * (InTurn), which counts every one added meanwhile. Private and group
 * messages are counted together, as end-to-end messages: an `e2e_private`
 * may be a group's sender key or a file's key rather than a line anyone
 * wrote, which nothing tells before it is opened.
 */
export class AwaitingKeys {
  #all = 0;
  #said = 0;
  /** Senders since the last line, in the order they first came. */
  #from = new Set<string>();
  #due = false;

  /** Counts one message from `from`; true when a line is due (none pending). */
  add(from: string): boolean {
    this.#all++;
    this.#from.add(from);
    if (this.#due) return false;
    this.#due = true;
    return true;
  }

  /**
   * The line for what was added since the last one: the first says why and
   * what to do, the later ones how many more, and how many in all.
   */
  line(missing: KeysMissing): string {
    this.#due = false;
    const first = this.#said === 0;
    const added = this.#all - this.#said;
    const from = senders([...this.#from]);
    this.#said = this.#all;
    this.#from = new Set();
    const one = added === 1;
    const what = `${added} ${first ? "" : "more "}end-to-end message${
      one ? "" : "s"
    } from ${from} ${one ? "waits" : "wait"} for your end-to-end keys`;
    if (!first) return `${what} (${this.#all} in all)`;
    return `${what}, ${
      where(missing, one ? "it" : "them", one ? "it comes" : "they come")
    }`;
  }
}

/**
 * Counts the end-to-end messages in answers to `history` requests that a
 * client without its keys could not try, and says it in one line per burst
 * (the messages of one answer come together), as AwaitingKeys does. These
 * are not left on the server: a history answer is a copy of what the server
 * keeps anyway, or of what was delivered already (perhaps to the client
 * that has the keys), so the copy is acknowledged (docs/PROTOCOL.md 5.9),
 * and the line promises nothing about it coming again.
 */
export class UnopenedHistory {
  #added = 0;
  /** Senders since the last line, in the order they first came. */
  #from = new Set<string>();
  #due = false;

  /** Counts one message from `from`; true when a line is due (none pending). */
  add(from: string): boolean {
    this.#added++;
    this.#from.add(from);
    if (this.#due) return false;
    this.#due = true;
    return true;
  }

  /** The line for what was added since the last one. */
  line(missing: KeysMissing): string {
    const added = this.#added;
    const from = senders([...this.#from]);
    this.#due = false;
    this.#added = 0;
    this.#from = new Set();
    return `${added} end-to-end message${
      added === 1 ? "" : "s"
    } from ${from} in the history could not be opened without your end-to-end keys, ${
      holder(missing)
    }`;
  }
}

/** Where the keys are, for a history answer's line: nothing waits. */
function holder(missing: KeysMissing): string {
  switch (missing.kind) {
    case "other_process":
      return `which the chat connect signed in as you${
        missing.pid === null ? "" : ` (pid ${missing.pid})`
      } has`;
    case "other_tab":
      return "which another tab of this browser has";
    case "unopened":
      return "which this browser could not open (see the warning after you joined; reload to try again)";
    default: {
      const unreachable: never = missing;
      return unreachable;
    }
  }
}

/** At most three names, then how many others. */
function senders(names: string[]): string {
  const shown = names.length > 3 ? names.slice(0, 3) : names;
  const others = names.length - shown.length;
  const last = others > 0
    ? `${others} other${others === 1 ? "" : "s"}`
    : shown.pop()!;
  return shown.length === 0 ? last : `${shown.join(", ")} and ${last}`;
}

/** Where the keys are, and where what waits comes. */
function where(missing: KeysMissing, them: string, it: string): string {
  switch (missing.kind) {
    case "other_process":
      return `which the chat connect signed in as you${
        missing.pid === null ? "" : ` (pid ${missing.pid})`
      } has: the server keeps ${them} for it, and ${it} here at your next sign-in once it has ended`;
    case "other_tab":
      return `which another tab of this browser has: the server keeps ${them}, and ${it} there, or here once that tab is closed and this one reloaded`;
    case "unopened":
      return `which this browser could not open (see the warning after you joined): the server keeps ${them}, and ${it} once you sign in with them (reload to try again)`;
    default: {
      const unreachable: never = missing;
      return unreachable;
    }
  }
}
