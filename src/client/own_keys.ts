// This module is browser compatible.

/**
 * Whether a client may send what goes end to end (a private message, a group
 * message, a file's key): only with its own end-to-end keys, opened and
 * published on the connection it sends on. Without them it refuses, saying
 * what to do, rather than send in the clear: a recipient who knows the
 * sender's key refuses a plain private message (plain_messages.ts), so it
 * would be lost for them, and one who does not would be shown a message the
 * host could read. The web page uses it (web/main.ts); the terminal stops
 * instead when it cannot open its keys (session.ts).
 *
 * @module
 */

import { SEND_WAIT_MS } from "./answer_within.ts";

/** Where a client's own end-to-end keys are, for sending. */
export type OwnKeys =
  /** Published on the connection: what is sent goes end to end. */
  | { kind: "published" }
  /** Opened, but the server did not take them (its error, or the link's). */
  | { kind: "unpublished"; reason: string }
  /** This client could not open them (it said why when the user joined). */
  | { kind: "unopened" }
  /** Another tab of this browser has them (one tab uses them at a time). */
  | { kind: "elsewhere" };

/** What would go end to end. */
export type Sealed =
  | { kind: "msg"; to: string }
  | { kind: "gsay"; group: string }
  | { kind: "file"; target: { to: string } | { group: string } };

/** What goes refused, in the plural, as the refusals say it. */
function what(sealed: Sealed): string {
  switch (sealed.kind) {
    case "msg":
      return "private messages";
    case "gsay":
      return "group messages";
    case "file":
      return "files";
    default: {
      const unreachable: never = sealed;
      return unreachable;
    }
  }
}

/**
 * Why `sealed` is not sent with `keys` as they are (an error line the user
 * can act on), or null when it may go.
 */
export function notSentWithout(keys: OwnKeys, sealed: Sealed): string | null {
  switch (keys.kind) {
    case "published":
      return null;
    case "unpublished":
      return `ERROR: Not sent: your end-to-end keys could not be published (${keys.reason}), and ${
        what(sealed)
      } go only once they are, never in the clear. Try again; each try publishes them again`;
    case "unopened":
      return `ERROR: Not sent: this browser could not open your end-to-end keys (see the warning after you joined), and ${
        what(sealed)
      } never go in the clear from here`;
    case "elsewhere":
      return `ERROR: Not sent: ${
        what(sealed)
      } go from the tab of this browser that has your end-to-end keys (they come to this one once that tab closes or signs out)`;
    default: {
      const unreachable: never = keys;
      return unreachable;
    }
  }
}

/**
 * Publishes a client's keys once per connection (at sign-in), and again when
 * asked after a failure: each send waits for the publish under way, so that
 * nothing goes before the keys are published, and a failed one is tried
 * again by the next send rather than refusing for the rest of the
 * connection.
 */
export class OwnKeysPublisher<C extends object> {
  readonly #publish: (client: C) => Promise<void>;
  readonly #waitMs: number;
  #on: C | null = null;
  #outcome: Promise<OwnKeys> = Promise.resolve({ kind: "published" });

  /**
   * `publish` publishes on a connection; it rejects with the reason.
   * `waitMs`: how long a send waits for it ({@link ready}).
   */
  constructor(publish: (client: C) => Promise<void>, waitMs = SEND_WAIT_MS) {
    this.#publish = publish;
    this.#waitMs = waitMs;
  }

  /** Publishes on `client` (a new sign-in); resolves with how it went. */
  start(client: C): Promise<OwnKeys> {
    this.#on = client;
    this.#outcome = Promise.resolve(client).then(this.#publish).then(
      (): OwnKeys => ({ kind: "published" }),
      (error): OwnKeys => ({
        kind: "unpublished",
        // The server's error line, quoted within the refusal.
        reason: (error instanceof Error ? error.message : String(error))
          .replace(/^ERROR: /, ""),
      }),
    );
    return this.#outcome;
  }

  /**
   * How the keys stand on `client` once the publish under way has ended:
   * published on it, or a new attempt's outcome when the last one failed
   * or none was made on it. Waited for `waitMs` at most (SEND_WAIT_MS),
   * then unpublished: sends go one after the other (unconfirmed_chat.ts),
   * and a server that took the publish and never answered it held the line
   * and every line typed after it, public ones too, until the connection
   * dropped. The publish goes on; a later send waits for it again.
   */
  async ready(client: C): Promise<OwnKeys> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        this.#ready(client),
        new Promise<OwnKeys>((resolve) => {
          timer = setTimeout(() =>
            resolve({
              kind: "unpublished",
              reason: `the server has not answered within ${
                this.#waitMs / 1000
              } seconds`,
            }), this.#waitMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #ready(client: C): Promise<OwnKeys> {
    if (this.#on !== client) return await this.start(client);
    const pending = this.#outcome;
    const outcome = await pending;
    // Published, or a sign-in elsewhere since: its own publish counts.
    if (outcome.kind === "published" || this.#on !== client) return outcome;
    // Failed: one new attempt, shared by the sends that waited meanwhile.
    if (this.#outcome === pending) void this.start(client);
    return await this.#outcome;
  }
}
