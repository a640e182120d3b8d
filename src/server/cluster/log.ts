/**
 * The cluster's message log in JetStream (issue 19, docs/SCALING.md "The
 * message log"): one stream, CHAT_LOG, on file storage, that a node
 * publishes every chat message and every acknowledgement to, and that every
 * node reads back in order, from an ordered consumer, into its own store
 * (log_apply.ts). The stream sequence is the position every node hands out.
 */

import {
  decodeLogRecord,
  encodeLogRecord,
  logMessageId,
  type LogRecord,
  logSubject,
} from "./log_record.ts";
import {
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
} from "./nats.ts";
import { LOG_STREAM, LOG_SUBJECTS } from "./subjects.ts";

/**
 * How long JetStream remembers a message id (`Nats-Msg-Id`, our sender key
 * and cid) to store a retry once: a client retries within seconds of
 * losing its node (reconnect plus resend), so two minutes is ample. Past
 * it, each node's store still knows the sender's newest 100,000 cids
 * (PROTOCOL 5.9) once it has applied the first copy.
 */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;

/** How long a publish is tried again while JetStream is not there. */
const RETRY_FOR_MS = 5_000;
const RETRY_FIRST_MS = 100;

/** Where a published record went. */
export interface Published {
  /** Its stream sequence: the message's id and seq. */
  readonly seq: number;
  /** A retry of a record stored before (same message id): not stored again. */
  readonly duplicate: boolean;
}

export class ClusterLog {
  /**
   * The space the log's positions belong to (32 lowercase hex digits): the
   * same on every node, new if the stream is ever made again. A node
   * announces it as its store's id (PROTOCOL 5.3 `store`), so a client that
   * moves between nodes keeps what it has shown.
   */
  readonly id: string;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #log: (line: string) => void;
  /** The last stream sequence applied here. */
  #applied = 0;
  #waiters: { seq: number; resolve: () => void }[] = [];
  #stopped = false;
  #stopConsumer: (() => void) | null = null;

  private constructor(
    id: string,
    nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    log: (line: string) => void,
  ) {
    this.id = id;
    this.#nc = nc;
    this.#js = js;
    this.#jsm = jsm;
    this.#log = log;
  }

  /** Opens the stream, made if it does not exist yet. */
  static async open(
    nc: NatsConnection,
    log: (line: string) => void,
  ): Promise<ClusterLog> {
    const jsm = await jetstreamManager(nc);
    let created: string;
    try {
      created = (await jsm.streams.info(LOG_STREAM)).created;
    } catch {
      try {
        created = (await jsm.streams.add({
          name: LOG_STREAM,
          subjects: [LOG_SUBJECTS],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000,
        })).created;
      } catch (error) {
        // Another node made it meanwhile.
        created = (await jsm.streams.info(LOG_STREAM).catch(() => {
          throw new Error(
            `Cannot open the NATS stream ${LOG_STREAM}: ${
              messageOf(error)
            }. Is JetStream on (nats-server -js)?`,
          );
        })).created;
      }
    }
    return new ClusterLog(
      await logId(created),
      nc,
      jetstream(nc),
      jsm,
      log,
    );
  }

  /**
   * Throws an error a user can act on if a store whose newest message is
   * `lastId` cannot be this cluster's copy: it holds messages the log does
   * not (a single node's database, or a log that was wiped).
   */
  async check(lastId: number, where: string): Promise<void> {
    const info = await this.#jsm.streams.info(LOG_STREAM);
    if (lastId > info.state.last_seq) {
      throw new Error(
        `The database in ${where} holds messages the cluster's log does not (message ${lastId}, the log ends at ${info.state.last_seq}): it was not made by this cluster. Give each node of a cluster its own new --data folder`,
      );
    }
  }

  /**
   * Publishes `record`; resolves once JetStream has stored it (the `ok` a
   * sender gets means this), with its sequence.
   */
  async publish(record: LogRecord): Promise<Published> {
    // Encoded now: the body may be a received frame that is reused later.
    const bytes = encodeLogRecord(record);
    const msgID = logMessageId(record);
    const started = Date.now();
    for (let pause = RETRY_FIRST_MS;; pause = Math.min(2 * pause, 1_000)) {
      try {
        const ack = await this.#js.publish(
          logSubject(record),
          bytes,
          msgID === null ? undefined : { msgID },
        );
        return { seq: ack.seq, duplicate: ack.duplicate };
      } catch (error) {
        // JetStream not there (yet: it recovers its streams after NATS
        // restarts) stored nothing; a record with a message id is stored
        // once however often it is sent. Anything else may have been
        // stored: sending it again could store it twice.
        const again = isUnavailable(error) || msgID !== null;
        if (!again || Date.now() - started + pause > RETRY_FOR_MS) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  /**
   * Starts applying the log from sequence `from` on, in order; `apply`
   * is called once per record (a record that does not decode is logged
   * and skipped: it was never stored anywhere).
   */
  async start(
    from: number,
    apply: (seq: number, record: LogRecord) => void,
  ): Promise<void> {
    this.#applied = Math.max(this.#applied, from - 1);
    const consumer = await this.#js.consumers.get(
      LOG_STREAM,
      from <= 1
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from },
    );
    const messages = await consumer.consume();
    this.#stopConsumer = () => messages.stop();
    if (this.#stopped) messages.stop();
    for await (const msg of messages) {
      const seq = msg.seq;
      if (seq <= this.#applied) continue;
      let record: LogRecord | null = null;
      try {
        record = decodeLogRecord(msg.data);
      } catch (error) {
        this.#log(
          `cluster: skipped log record ${seq} on ${msg.subject}: ${
            messageOf(error)
          }`,
        );
      }
      if (record !== null) {
        try {
          apply(seq, record);
        } catch (error) {
          this.#log(
            `cluster: could not apply log record ${seq}: ${messageOf(error)}`,
          );
        }
      }
      this.#advance(seq);
    }
  }

  #advance(seq: number): void {
    this.#applied = seq;
    if (this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((waiter) => waiter.seq <= seq);
    this.#waiters = this.#waiters.filter((waiter) => waiter.seq > seq);
    for (const waiter of ready) waiter.resolve();
  }

  /** Resolves once this node has applied the log up to `seq`. */
  applied(seq: number, timeoutMs: number): Promise<void> {
    if (seq <= this.#applied) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((one) => one !== waiter);
        reject(
          new Error(
            `the message log was not read back up to ${seq} within ${timeoutMs} ms (at ${this.#applied})`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /**
   * Resolves once this node has applied everything the stream held when
   * asked: what a user's sign-in here must not miss.
   */
  async caughtUp(timeoutMs: number): Promise<void> {
    const info = await this.#jsm.streams.info(LOG_STREAM);
    await this.applied(info.state.last_seq, timeoutMs);
  }

  stop(): void {
    this.#stopped = true;
    this.#stopConsumer?.();
  }
}

/**
 * The log's id: the first 16 bytes of SHA-256 over its name and the time
 * JetStream made it, in hex (docs/SCALING.md "The message log").
 */
export async function logId(created: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(`${LOG_STREAM}\n${created}`),
  );
  return new Uint8Array(digest).subarray(0, 16).toHex();
}

/** JetStream did not answer at all: nothing was stored. */
function isUnavailable(error: unknown): boolean {
  return error instanceof Error &&
    (error.name === "JetStreamNotEnabled" ||
      /no responders|not enabled/i.test(error.message));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
