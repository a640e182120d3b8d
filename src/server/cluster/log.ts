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
  isJetStreamUnavailable,
  isStreamNotFound,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
} from "./nats.ts";
import { LOG_STREAM, LOG_SUBJECTS } from "./subjects.ts";
import { LogPublisher, LogRefusedError } from "./log_publisher.ts";
import { NotStoredError } from "../not_stored_error.ts";
import { PositionWaiters } from "./position_waiters.ts";
import { DATABASE_FILE } from "../../store/sqlite_store.ts";

/**
 * How long JetStream remembers a message id (`Nats-Msg-Id`, our sender key
 * and cid) to store a retry once: a client retries within seconds of
 * losing its node (reconnect plus resend), so two minutes is ample. Past
 * it, each node's store still knows the sender's newest 100,000 cids
 * (PROTOCOL 5.9) once it has applied the first copy.
 */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;

/** How long the log keeps records, and how much of them: 0 for no limit. */
export interface LogRetention {
  readonly maxAgeMs: number;
  readonly maxBytes: number;
}

/**
 * A week of records, of any size: a node down for longer than that starts
 * on a copy of a current node's database (docs/SCALING.md "Retention").
 */
export const DEFAULT_RETENTION: LogRetention = {
  maxAgeMs: 7 * 24 * 3_600_000,
  maxBytes: 0,
};

/**
 * How long a publish without a message id is tried again while JetStream
 * is not there, and one refused is tried again.
 */
const RETRY_FOR_MS = 5_000;
const RETRY_FIRST_MS = 100;

/**
 * Records applied in one unit of work, at most (`start`): under
 * MAX_DELIVERED_IDS, so that a batch's deliveries to one user fit in one
 * `delivered` record.
 */
export const APPLY_BATCH = 500;
/**
 * How long a pull waits for records (the client's `expires`): also how
 * often it checks the consumer again after NATS came back, and half of it
 * the heartbeat that tells a consumer gone; an idle node pulls once a
 * period.
 */
const PULL_EXPIRES_MS = 5_000;

/** Records the consumer asks JetStream for at a time. */
const PULL_BATCH = 1_000;

/** A record of the log and its stream sequence. */
export interface SequencedRecord {
  readonly seq: number;
  readonly record: LogRecord;
}

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
  readonly #publisher: LogPublisher;
  /** The last stream sequence applied here. */
  #applied = 0;
  readonly #waiters = new PositionWaiters();
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
    this.#publisher = new LogPublisher(nc, LOG_STREAM);
  }

  /**
   * Opens the stream, made if it does not exist yet. `retention` given
   * (`chat serve --log-max-age`, `--log-max-mb`) is set on the stream, made
   * or not; not given, a new stream gets the defaults and an existing one
   * keeps what it has (an operator's choice is not undone by a node
   * started without the flags).
   */
  static async open(
    nc: NatsConnection,
    log: (line: string) => void,
    retention: Partial<LogRetention> = {},
  ): Promise<ClusterLog> {
    const jsm = await jetstreamManager(nc);
    let created: string;
    try {
      const info = await jsm.streams.info(LOG_STREAM);
      created = info.created;
      await updateRetention(jsm, info.config, retention, log);
    } catch (error) {
      if (!isStreamNotFound(error)) throw unavailable(error);
      const wanted = { ...DEFAULT_RETENTION, ...retention };
      try {
        created = (await jsm.streams.add({
          name: LOG_STREAM,
          subjects: [LOG_SUBJECTS],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          ...streamLimits(wanted),
        })).created;
      } catch (error) {
        // Another node made it meanwhile.
        const info = await jsm.streams.info(LOG_STREAM).catch(() => {
          throw unavailable(error);
        });
        created = info.created;
        await updateRetention(jsm, info.config, retention, log);
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
   * `lastId`, and which applied the log up to `from - 1`, cannot be this
   * cluster's copy: it holds messages the log does not (a single node's
   * database, or a log that was wiped), or it has not applied records the
   * log no longer holds (retention removed them: docs/SCALING.md
   * "Retention").
   */
  async check(
    lastId: number,
    where: string,
    from: number = lastId + 1,
  ): Promise<void> {
    const info = await this.#jsm.streams.info(LOG_STREAM);
    const { first_seq: first, last_seq: last } = info.state;
    const ahead = Math.max(lastId, from - 1);
    if (ahead > last) {
      throw new Error(
        `The database in ${where} holds messages the cluster's log does not (message ${ahead}, the log ends at ${last}): it was not made by this cluster. Give each node of a cluster its own new --data folder`,
      );
    }
    if (from < first) {
      throw new Error(
        `The cluster's log no longer holds records ${from} to ${
          first - 1
        }, which the database in ${where} has not applied (the log's retention removed them; it starts at ${first}). Start this node on a copy of a current node's database: sqlite3 OTHER/${DATABASE_FILE} "VACUUM INTO '${where}/${DATABASE_FILE}'" (docs/SCALING.md "Retention")`,
      );
    }
  }

  /**
   * Publishes `record`; resolves once JetStream has stored it (the `ok` a
   * sender gets means this), with its sequence. Rejects as
   * ClusterLogPort.publish says (port.ts).
   */
  async publish(record: LogRecord): Promise<Published> {
    // Encoded now: the body may be a received frame that is reused later.
    const bytes = encodeLogRecord(record);
    const msgID = logMessageId(record);
    // The monotonic clock: a wall clock set forward would end the retries at
    // once, set back stretch them far past RETRY_FOR_MS.
    const started = performance.now();
    for (let pause = RETRY_FIRST_MS;; pause = Math.min(2 * pause, 1_000)) {
      try {
        return await this.#publisher.publish(logSubject(record), bytes, msgID);
      } catch (error) {
        if (this.#stopped) throw error;
        const refused = error instanceof LogRefusedError;
        const late = performance.now() - started + pause > RETRY_FOR_MS;
        if (msgID !== null) {
          // Stored once however often it is sent, so sent again until
          // JetStream answers: one that did not (NATS went away, or is
          // still away: the NATS client drops what it was given meanwhile
          // when it dials again) may be stored all the same, and its
          // sender, told it was not, types it again: twice in the log. A
          // refusal is tried again for RETRY_FOR_MS (JetStream recovering
          // its streams), then it is the answer.
          if (refused && late) throw new NotStoredError(messageOf(error));
        } else if (refused) {
          throw new NotStoredError(messageOf(error));
        } else if (!isJetStreamUnavailable(error)) {
          // Not answered: it may have been stored, and sending it again
          // could store it twice.
          throw error;
        } else if (late) {
          // JetStream not there (yet: it recovers its streams after NATS
          // restarts) stored nothing.
          throw new NotStoredError(messageOf(error));
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  /** Stopped: nothing is published or applied any more. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Starts applying the log from sequence `from` on, in order, in batches:
   * `apply` gets what the consumer had at hand (at most APPLY_BATCH
   * records), to apply in one unit of work, and the last sequence the batch
   * covers (a record that does not decode is logged and skipped: it was
   * never stored anywhere, but its sequence is passed over).
   */
  async start(
    from: number,
    apply: (records: readonly SequencedRecord[], last: number) => void,
  ): Promise<void> {
    this.#applied = Math.max(this.#applied, from - 1);
    const consumer = await this.#js.consumers.get(
      LOG_STREAM,
      from <= 1
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from },
    );
    // Larger pulls than the client's 100: a node behind (or started on an
    // empty database) reads the log in fewer round trips. Pulls that expire
    // after PULL_EXPIRES_MS rather than the client's 30 s: after NATS comes
    // back the client checks the consumer, which fails until JetStream is up
    // (seconds later), and tries again only after `expires`; meanwhile the
    // node applied nothing, and every line sent there was answered "could
    // not save that" though JetStream had it.
    const messages = await consumer.consume({
      max_messages: PULL_BATCH,
      expires: PULL_EXPIRES_MS,
    });
    this.#stopConsumer = () => messages.stop();
    if (this.#stopped) messages.stop();
    let batch: SequencedRecord[] = [];
    let last = this.#applied;
    let flushing: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      if (flushing !== null) clearTimeout(flushing);
      flushing = null;
      const records = batch;
      batch = [];
      if (last <= this.#applied || this.#stopped) return;
      try {
        apply(records, last);
      } catch (error) {
        this.#log(
          `cluster: could not apply log records to ${last}: ${
            messageOf(error)
          }`,
        );
      }
      this.#advance(last);
    };
    for await (const msg of messages) {
      const seq = msg.seq;
      if (seq <= last) continue;
      if (seq > last + 1 && last > 0) {
        // Sequences of one stream are contiguous: a gap is records removed
        // (retention, a purge) before this node read them.
        this.#log(
          `cluster: the message log no longer holds records ${last + 1} to ${
            seq - 1
          }, which this node has not applied: its copy misses them; start it again on a copy of a current node's database (docs/SCALING.md "Retention")`,
        );
      }
      last = seq;
      try {
        batch.push({ seq, record: decodeLogRecord(msg.data) });
      } catch (error) {
        this.#log(
          `cluster: skipped log record ${seq} on ${msg.subject}: ${
            messageOf(error)
          }`,
        );
      }
      // Applied once the consumer has handed over what it had at hand (the
      // iterator yields its buffer in microtasks, before any timer), or the
      // batch is full: one transaction for all, on every node.
      if (batch.length >= APPLY_BATCH) flush();
      else if (flushing === null) flushing = setTimeout(flush, 0);
    }
    flush();
  }

  #advance(seq: number): void {
    this.#applied = seq;
    this.#waiters.advance(seq);
  }

  /** How far this node has applied the log (0: nothing yet). */
  get position(): number {
    return this.#applied;
  }

  /** Resolves once this node has applied the log up to `seq`. */
  applied(seq: number, timeoutMs: number): Promise<void> {
    if (seq <= this.#applied) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const giveUp = this.#waiters.wait(seq, () => {
        clearTimeout(timer);
        resolve();
      });
      const timer = setTimeout(() => {
        giveUp();
        reject(
          new Error(
            `the message log was not read back up to ${seq} within ${timeoutMs} ms (at ${this.#applied})`,
          ),
        );
      }, timeoutMs);
    });
  }

  /** The stream's last sequence now (0 while it is empty). */
  async end(): Promise<number> {
    return (await this.#jsm.streams.info(LOG_STREAM)).state.last_seq;
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
    this.#publisher.close();
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

/** The stream's limits for `retention`, in JetStream's units. */
function streamLimits(retention: LogRetention): {
  max_age: number;
  max_bytes: number;
  duplicate_window: number;
} {
  const window = retention.maxAgeMs === 0
    ? DUPLICATE_WINDOW_MS
    : Math.min(DUPLICATE_WINDOW_MS, retention.maxAgeMs);
  return {
    max_age: retention.maxAgeMs * 1_000_000,
    max_bytes: retention.maxBytes === 0 ? -1 : retention.maxBytes,
    // JetStream refuses a duplicate window longer than the records kept.
    duplicate_window: window * 1_000_000,
  };
}

/** Sets the retention asked for on the stream, if it has another. */
async function updateRetention(
  jsm: JetStreamManager,
  config: { max_age: number; max_bytes: number; duplicate_window?: number },
  retention: Partial<LogRetention>,
  log: (line: string) => void,
): Promise<void> {
  if (retention.maxAgeMs === undefined && retention.maxBytes === undefined) {
    return;
  }
  const has: LogRetention = {
    maxAgeMs: Math.round(config.max_age / 1_000_000),
    maxBytes: config.max_bytes < 0 ? 0 : config.max_bytes,
  };
  const wanted = { ...has, ...retention };
  if (wanted.maxAgeMs === has.maxAgeMs && wanted.maxBytes === has.maxBytes) {
    return;
  }
  await jsm.streams.update(LOG_STREAM, streamLimits(wanted));
  log(
    `cluster: the message log now keeps ${describe(wanted)} (it kept ${
      describe(has)
    })`,
  );
}

/** "records for 3 days, up to 50 GiB" and the like. */
export function describe(retention: LogRetention): string {
  const age = retention.maxAgeMs === 0
    ? "records of any age"
    : `records for ${
      inUnits(retention.maxAgeMs, [
        [86_400_000, "day"],
        [3_600_000, "hour"],
        [60_000, "minute"],
        [1000, "second"],
        [1, "ms"],
      ])
    }`;
  const size = retention.maxBytes === 0
    ? "of any total size"
    : `up to ${
      inUnits(retention.maxBytes, [
        [1024 ** 3, "GiB"],
        [1024 ** 2, "MiB"],
        [1024, "KiB"],
        [1, "byte"],
      ])
    }`;
  return `${age}, ${size}`;
}

/** `value` in the largest unit that divides it: "3 days", "500 MiB". */
function inUnits(
  value: number,
  units: readonly (readonly [number, string])[],
): string {
  const [size, name] = units.find(([size]) => value % size === 0) ??
    units.at(-1)!;
  const count = value / size;
  const plural = /^[a-z]+$/.test(name) && name !== "ms" && count !== 1;
  return `${count} ${name}${plural ? "s" : ""}`;
}

function unavailable(error: unknown): Error {
  return new Error(
    `Cannot open the NATS stream ${LOG_STREAM}: ${
      messageOf(error)
    }. Is JetStream on (nats-server -js)?`,
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
