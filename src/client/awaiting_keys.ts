// This module is browser compatible.

/**
 * End-to-end messages a client leaves on the server because it has no
 * usable keys of its own (docs/PROTOCOL.md 5.9): why it has none, whether a
 * message is left or tried, and the one line that tells the user what
 * waits, for a burst of them rather than a line each.
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

/** What is left for the keys: private or group. */
export type SealedKind = "private" | "group";

/**
 * Counts what is left for the keys and says it in one line per burst (what
 * waited at the sign-in comes in one): `add` each message; when it returns
 * true, call `line` in turn after the messages of that burst (InTurn), which
 * counts every one added meanwhile.
 */
export class AwaitingKeys {
  #private = 0;
  #group = 0;
  #said = { private: 0, group: 0 };
  #due = false;

  /** Counts one message; true when a line is due for it (none pending). */
  add(kind: SealedKind): boolean {
    if (kind === "private") this.#private++;
    else this.#group++;
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
    const first = this.#said.private + this.#said.group === 0;
    const newPrivate = this.#private - this.#said.private;
    const newGroup = this.#group - this.#said.group;
    this.#said = { private: this.#private, group: this.#group };
    const more = first ? "" : "more ";
    const parts = [
      ...(newPrivate > 0 ? [count(newPrivate, `${more}private message`)] : []),
      ...(newGroup > 0 ? [count(newGroup, `${more}group message`)] : []),
    ];
    const one = newPrivate + newGroup === 1;
    const verb = one ? "waits" : "wait";
    if (!first) {
      const all = this.#private + this.#group;
      return `${
        parts.join(" and ")
      } ${verb} for your end-to-end keys (${all} in all)`;
    }
    const them = one ? "it" : "them";
    const it = one ? "it comes" : "they come";
    return `${parts.join(" and ")} ${verb} for your end-to-end keys, ${
      where(missing, them, it)
    }`;
  }
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

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}
