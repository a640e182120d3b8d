// This module is browser compatible.

/**
 * A cluster node's side of the shared message log (issue 19, docs/SCALING.md
 * "The message log"), between the core (serve.ts) and the log port
 * (cluster/log.ts): what a committed unit of work kept in the outbox
 * (log_outbox.ts) is published, and a sender's replies wait until their
 * messages are in JetStream and applied here, then carry the log's
 * positions. The messages themselves reach everyone, this node's users
 * included, from the log (log_apply.ts): what the router addressed to
 * others under a placeholder is dropped.
 */

import type { ClusterLogPort } from "./cluster/port.ts";
import { NotStoredError } from "./not_stored_error.ts";
import type { LogRecord } from "./cluster/log_record.ts";
import { isPlaceholder, type LogOutbox } from "./log_outbox.ts";
import type { Outbound } from "./outbound.ts";
import type { MessagePosition } from "../store/store.ts";
import { nameKey } from "../protocol/limits.ts";

/**
 * How long the node waits for the log before it says so: a sender's answer
 * waits on (SharedLog.settle), other waits go on without it.
 */
export const LOG_WAIT_MS = 10_000;

const SAVE_FAILED = "ERROR: The server could not save that; try again";
const UNCONFIRMED =
  "ERROR: The server could not confirm that it saved that: it may still be delivered";

export class SharedLog {
  readonly #outbox: LogOutbox;
  readonly #port: ClusterLogPort;
  readonly #log: (line: string) => void;

  constructor(
    outbox: LogOutbox,
    port: ClusterLogPort,
    log: (line: string) => void,
  ) {
    this.#outbox = outbox;
    this.#port = port;
    this.#log = log;
  }

  /**
   * `out`, routed by a unit of work just committed, once its messages are
   * in the log and applied here: placeholders replaced by positions, and
   * what was addressed to others dropped (the log brings it). The `ok` to
   * the requests `chatRequests` (the chat messages of the run) is an error
   * only when the log certainly did not take them; while that is not known
   * (NATS away) they wait, however long, as a sender told "could not save
   * that; try again" types the line again, and it was stored all the same:
   * twice. Must be called right after the commit, before anything else
   * commits.
   */
  async settle(
    out: readonly Outbound[],
    chatRequests: ReadonlySet<number>,
  ): Promise<Outbound[]> {
    const { messages, records } = this.#outbox.take();
    this.#publishAll(records);
    if (messages.length === 0) return [...out];
    const positions = new Map<number, MessagePosition>();
    // Said once if the log keeps the senders waiting: the node's operator
    // learns why lines are not answered.
    const slow = setTimeout(
      () =>
        this.#log(
          `cluster: the message log has not taken ${messages.length} message(s) within ${
            LOG_WAIT_MS / 1000
          } s (is NATS there?); their senders' answers wait until it does`,
        ),
      LOG_WAIT_MS,
    );
    let last = 0;
    try {
      // Published now, in order: JetStream numbers them in this order.
      const published = await Promise.all(
        messages.map((held) => this.#port.publish(held.record)),
      );
      published.forEach((one, i) => {
        positions.set(messages[i]!.placeholder.id, {
          id: one.seq,
          seq: one.seq,
        });
        last = Math.max(last, one.seq);
      });
    } catch (error) {
      this.#log(
        `cluster: could not store messages in the log: ${messageOf(error)}`,
      );
      return error instanceof NotStoredError
        ? failed(out, chatRequests)
        : unconfirmed(out, chatRequests, this.#port.stopped);
    } finally {
      clearTimeout(slow);
    }
    // In the log, so stored: the answer waits until this node has applied
    // them (its user's next request sees them), however long that takes.
    for (let said = false;; said = true) {
      try {
        await this.#port.applied(last, LOG_WAIT_MS);
        break;
      } catch (error) {
        if (this.#port.stopped) return unconfirmed(out, chatRequests, true);
        if (!said) {
          this.#log(
            `cluster: messages stored in the log are not applied here yet; their senders' answers wait: ${
              messageOf(error)
            }`,
          );
        }
      }
    }
    // A retry that JetStream stored again (its first try was stored longer
    // ago than the duplicate window) was not applied: the first stands.
    for (const { placeholder, record } of messages) {
      if (record.cid === undefined) continue;
      const first = this.#outbox.sentWithClientId(
        nameKey(record.from),
        record.cid,
      );
      if (first !== undefined) positions.set(placeholder.id, first);
    }
    return withPositions(out, positions);
  }

  /** Publishes what committed units kept besides messages (acknowledgements). */
  drain(): void {
    this.#publishAll(this.#outbox.takeRecords());
  }

  /** Tells the other nodes what this node delivered to its users. */
  delivered(deliveries: readonly { user: string; id: number }[]): void {
    const byUser = new Map<string, number[]>();
    for (const { user, id } of deliveries) {
      const ids = byUser.get(user);
      if (ids === undefined) byUser.set(user, [id]);
      else ids.push(id);
    }
    this.#publishAll(
      [...byUser].map(([user, ids]) => ({ kind: "delivered", user, ids })),
    );
  }

  #publishAll(records: readonly LogRecord[]): void {
    for (const record of records) {
      // At most once: a lost acknowledgement costs a message shown twice
      // (the client drops it by its position), never a lost one.
      this.#port.publish(record).catch((error) =>
        this.#log(
          `cluster: could not log a ${record.kind} record: ${messageOf(error)}`,
        )
      );
    }
  }
}

/**
 * `out` with the log's positions for the placeholders: replies to the
 * sender keep them, messages to others are dropped.
 */
export function withPositions(
  out: readonly Outbound[],
  positions: ReadonlyMap<number, MessagePosition>,
): Outbound[] {
  return out.flatMap((one): Outbound[] => {
    const message = one.message as { id?: unknown };
    if (!isPlaceholder(message.id)) return [one];
    if (!toConnection(one)) return [];
    const position = positions.get(message.id);
    if (position === undefined) return [];
    return [{
      ...one,
      message: { ...one.message, id: position.id, seq: position.seq },
    } as Outbound];
  });
}

/**
 * `out` when the log did not take the run's messages: nothing goes to
 * others, and each `ok` to a chat message is an error instead, saying
 * `text`: by default that they were not saved; null for no answer at all.
 */
export function failed(
  out: readonly Outbound[],
  chatRequests: ReadonlySet<number>,
  text: string | null = SAVE_FAILED,
): Outbound[] {
  return out.flatMap((one): Outbound[] => {
    const message = one.message;
    if (
      message.t === "ok" && toConnection(one) &&
      chatRequests.has(message.re)
    ) {
      return text === null ? [] : [{
        to: one.to,
        message: { t: "error", re: message.re, code: "internal", text },
      }];
    }
    const id = (message as { id?: unknown }).id;
    return isPlaceholder(id) ? [] : [one];
  });
}

/**
 * `out` when it is not known whether the log took the run's messages (a
 * chat message without a cid that JetStream did not answer; the node
 * closing): the sender hears so, not to type it again; or, when the node
 * is closing, nothing: the connection ends unanswered, and the client
 * sends the line again with its cid, stored once, on another node.
 */
function unconfirmed(
  out: readonly Outbound[],
  chatRequests: ReadonlySet<number>,
  closing: boolean,
): Outbound[] {
  return failed(out, chatRequests, closing ? null : UNCONFIRMED);
}

/** A reply: addressed to a connection, not to a user, group or the room. */
function toConnection(one: Outbound): boolean {
  return Array.isArray(one.to) ||
    (one.to as { kind?: string }).kind === "connection";
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
