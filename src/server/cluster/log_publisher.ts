/**
 * Publishes records to the message log's stream the way JetStream's
 * asynchronous publishers do (issue 19, docs/SCALING.md "Batching"): each
 * record goes out at once with a reply subject of this node's one
 * acknowledgement subscription, many are in flight together (at most
 * MAX_IN_FLIGHT; more wait their turn), and each caller's promise settles
 * when JetStream's acknowledgement for its record comes back. The client's
 * own `js.publish` is a request per record: a subscription entry, a timer
 * and an error object each, which cost more than the record's own work at
 * the rate a busy node publishes.
 */

import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "./nats.ts";

/** Records published and not acknowledged yet, at most. */
export const MAX_IN_FLIGHT = 1_024;
/** How long an acknowledgement may take before the publish fails. */
export const ACK_TIMEOUT_MS = 5_000;

/** JetStream's acknowledgement of one stored record. */
export interface PubAck {
  readonly seq: number;
  readonly duplicate: boolean;
}

/** JetStream answered that it did not store the record (its error). */
export class LogRefusedError extends Error {
  constructor(why: string) {
    super(`JetStream refused the record: ${why}`);
    this.name = "LogRefusedError";
  }
}

/** JetStream did not answer (no responders): nothing was stored. */
export class LogUnavailableError extends Error {
  constructor() {
    super("JetStream is not enabled or not there (no responders)");
    this.name = "JetStreamNotEnabled";
  }
}

interface Waiting {
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (error: Error) => void;
  readonly since: number;
}

export class LogPublisher {
  readonly #nc: NatsConnection;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #sub: Subscription;
  #next = 0;
  readonly #waiting = new Map<number, Waiting>();
  /** Callers waiting for room under MAX_IN_FLIGHT, in order. */
  #queue: (() => void)[] = [];
  #sweep: ReturnType<typeof setInterval> | null = null;
  #closed = false;

  constructor(nc: NatsConnection, stream: string) {
    this.#nc = nc;
    this.#stream = stream;
    this.#prefix = createInbox();
    this.#sub = nc.subscribe(`${this.#prefix}.*`, {
      callback: (error, msg) => {
        if (error === null) this.#acknowledged(msg);
      },
    });
  }

  /** How many records wait for their acknowledgement. */
  get inFlight(): number {
    return this.#waiting.size;
  }

  /**
   * Publishes `data` on `subject` (with `Nats-Msg-Id` `msgID` if given);
   * resolves with the acknowledgement, rejects if JetStream refuses it, is
   * not there, or does not answer within ACK_TIMEOUT_MS.
   */
  async publish(
    subject: string,
    data: Uint8Array,
    msgID: string | null,
  ): Promise<PubAck> {
    while (this.#waiting.size >= MAX_IN_FLIGHT && !this.#closed) {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    }
    if (this.#closed) throw new Error("The message log is closed");
    const id = ++this.#next;
    const acked = new Promise<PubAck>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject, since: performance.now() });
    });
    let options: Parameters<NatsConnection["publish"]>[2] = {
      reply: `${this.#prefix}.${id}`,
    };
    if (msgID !== null) {
      const h = headers();
      h.set("Nats-Msg-Id", msgID);
      options = { ...options, headers: h };
    }
    try {
      this.#nc.publish(subject, data, options);
    } catch (error) {
      this.#settle(id)?.reject(
        error instanceof Error ? error : new Error(String(error)),
      );
    }
    this.#sweep ??= setInterval(() => this.#expire(), ACK_TIMEOUT_MS / 5);
    return await acked;
  }

  /** Fails what still waits; publishes nothing more. */
  close(): void {
    this.#closed = true;
    this.#sub.unsubscribe();
    for (const [id] of this.#waiting) {
      this.#settle(id)?.reject(new Error("The message log is closed"));
    }
    for (const wake of this.#queue.splice(0)) wake();
    this.#stop();
  }

  #acknowledged(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#prefix.length + 1));
    const waiting = this.#settle(id);
    if (waiting === undefined) return; // Late: it failed already.
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      waiting.reject(new LogUnavailableError());
      return;
    }
    let ack: unknown;
    try {
      ack = msg.json();
    } catch {
      waiting.reject(
        new Error("JetStream sent an acknowledgement that is not JSON"),
      );
      return;
    }
    const parsed = ack as {
      stream?: unknown;
      seq?: unknown;
      duplicate?: unknown;
      error?: { description?: unknown; code?: unknown };
    };
    if (parsed.error !== undefined) {
      waiting.reject(
        new LogRefusedError(
          String(parsed.error.description ?? parsed.error.code),
        ),
      );
    } else if (
      parsed.stream !== this.#stream || !Number.isSafeInteger(parsed.seq) ||
      (parsed.seq as number) < 1
    ) {
      waiting.reject(
        new Error("JetStream sent an acknowledgement we cannot read"),
      );
    } else {
      waiting.resolve({
        seq: parsed.seq as number,
        duplicate: parsed.duplicate === true,
      });
    }
  }

  /** Takes `id` off the waiting list and lets a queued caller in. */
  #settle(id: number): Waiting | undefined {
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return undefined;
    this.#waiting.delete(id);
    this.#queue.shift()?.();
    if (this.#waiting.size === 0) this.#stop();
    return waiting;
  }

  #expire(): void {
    // The monotonic clock: a wall clock set forward would fail every record
    // in flight at once; set back, hold them past the timeout.
    const limit = performance.now() - ACK_TIMEOUT_MS;
    // Map order is publish order: the oldest come first.
    for (const [id, waiting] of this.#waiting) {
      if (waiting.since > limit) break;
      this.#settle(id)?.reject(
        new Error(
          `JetStream did not acknowledge the record within ${ACK_TIMEOUT_MS} ms`,
        ),
      );
    }
  }

  #stop(): void {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
  }
}
