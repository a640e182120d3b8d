/**
 * Checkpoints the store's write-ahead log from a worker thread
 * (checkpoint_worker.ts), not inside the server's commits.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the log
 * past 1000 pages: on the server's only thread, it syncs the log, copies it
 * into the database file and syncs that, 1.5-6 ms every half second at 200
 * public messages a second (issue 21 item 4), while every message that
 * arrives waits. The store turns it off and asks the worker instead, every
 * `everyRows` rows written; the worker's own connection copies what no
 * reader still needs (PRAGMA wal_checkpoint(PASSIVE)), never taking the
 * write lock, so the writer never waits for it.
 *
 * The log starts again from its beginning when the writer begins a
 * transaction and finds all of it copied. Under writes that never pause,
 * the worker's copy may never catch up with the end of the log, which then
 * grows; past `maxLogFrames`, or when the worker has not answered for
 * `staleRows` rows (a writer that never yields to the event loop), the
 * writer checkpoints itself once, as SQLite would have, which lets the log
 * start again.
 */

import type {
  CheckpointReply,
  CheckpointRequest,
} from "./checkpoint_worker.ts";

export interface CheckpointerOptions {
  /** The database file, as the store opened it. */
  path: string;
  busyTimeoutMs: number;
  /** Rows written between two checkpoints asked of the worker. */
  everyRows: number;
  /** The worker cannot checkpoint: SQLite must do it again, the old way. */
  onFailure: (reason: string) => void;
}

/**
 * Past this many pages (16 MiB) the log is started again by the writer's
 * own checkpoint: four times what SQLite lets it reach, a quarter of
 * journal_size_limit.
 */
const MAX_LOG_FRAMES = 4000;
/**
 * Rows written while the worker's answer is still due (everyRows times
 * this), past which the writer checkpoints itself: it has not let the
 * answer in, or the worker is stuck.
 */
const STALE_ROWS_FACTOR = 4;
/** How long closing waits for the worker to close its connection. */
const CLOSE_WAIT_MS = 10_000;

export interface CheckpointCounts {
  /** Checkpoints the worker ran. */
  byWorker: number;
  /** Checkpoints the writer ran itself (the worker fell behind). */
  byWriter: number;
}

export class Checkpointer {
  readonly #options: CheckpointerOptions;
  #worker: Worker | null = null;
  /** The connection's rows written when the worker was last asked. */
  #askedAt: number;
  /** The request the worker has not answered yet (0: none), and the last sent. */
  #pending = 0;
  #lastId = 0;
  /** Answers to requests up to this one describe a log since started again. */
  #outdatedUpTo = 0;
  /** Frames in the log at the worker's last checkpoint. */
  #logFrames = 0;
  #failed = false;
  #closed = false;
  /** Callers of now() by request. */
  readonly #waiting = new Map<number, (done: boolean) => void>();
  readonly counts: CheckpointCounts = { byWorker: 0, byWriter: 0 };

  /** `written`: the connection's rows written so far (total_changes()). */
  constructor(options: CheckpointerOptions, written: number) {
    this.#options = options;
    this.#askedAt = written;
  }

  /**
   * Told the connection's rows written so far after each commit. True when
   * the writer should checkpoint itself now (see the module's comment);
   * it then calls `checkpointedHere`.
   */
  committed(written: number): boolean {
    if (this.#failed || this.#closed) return false;
    const since = written - this.#askedAt;
    if (this.#pending !== 0) {
      return since >= this.#options.everyRows * STALE_ROWS_FACTOR;
    }
    if (this.#logFrames >= MAX_LOG_FRAMES) return true;
    if (since >= this.#options.everyRows) this.#ask(written);
    return false;
  }

  /**
   * The writer ran its checkpoint; `busy`: the worker's held it back, and
   * the writer tries again at its next commit.
   */
  checkpointedHere(written: number, busy: boolean): void {
    if (busy) return;
    this.counts.byWriter++;
    this.#logFrames = 0;
    this.#outdatedUpTo = this.#lastId;
    this.#askedAt = written;
  }

  /**
   * Stops the worker, its connection closed, so that the writer's is the
   * last and SQLite checkpoints and removes the log when it closes.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = null;
    this.#release(Infinity, false);
    if (worker === null) return;
    const done = new SharedArrayBuffer(4);
    worker.postMessage({ kind: "close", done } satisfies CheckpointRequest);
    // Blocks this thread for as long as a checkpoint under way takes, at
    // most: closing is synchronous, and the worker needs nothing from us.
    Atomics.wait(new Int32Array(done), 0, 0, CLOSE_WAIT_MS);
    worker.terminate();
  }

  /**
   * Starts the worker now rather than at the first checkpoint: starting one
   * holds the calling thread for 20-30 ms (measured under the latency
   * bench), which the first checkpoint would otherwise add to a commit
   * while people are talking.
   */
  start(): void {
    if (this.#failed || this.#closed) return;
    this.#worker ??= this.#start();
  }

  /** Whether the worker is running (started and not stopped). */
  get running(): boolean {
    return this.#worker !== null;
  }

  /**
   * Has the worker checkpoint now; resolves once it has (false: it cannot,
   * and SQLite checkpoints in the commits again).
   */
  now(written: number): Promise<boolean> {
    if (this.#failed || this.#closed) return Promise.resolve(false);
    const id = this.#ask(written);
    if (id === 0) return Promise.resolve(false);
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }

  /** The request's id; 0 when there is no worker. */
  #ask(written: number): number {
    this.#worker ??= this.#start();
    if (this.#worker === null) return 0;
    this.#pending = ++this.#lastId;
    this.#askedAt = written;
    this.#worker.postMessage(
      { kind: "checkpoint", id: this.#pending } satisfies CheckpointRequest,
    );
    return this.#pending;
  }

  #start(): Worker | null {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./checkpoint_worker.ts", import.meta.url), {
        type: "module",
      });
    } catch (error) {
      this.#fail(error instanceof Error ? error.message : String(error));
      return null;
    }
    worker.onmessage = (event: MessageEvent<CheckpointReply>) =>
      this.#answered(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(event.message);
    };
    worker.postMessage(
      {
        kind: "open",
        path: this.#options.path,
        busyTimeoutMs: this.#options.busyTimeoutMs,
      } satisfies CheckpointRequest,
    );
    return worker;
  }

  #answered(reply: CheckpointReply): void {
    if (this.#closed) return;
    if (reply.kind === "failed") {
      this.#fail(reply.message);
      return;
    }
    if (reply.id === this.#pending) this.#pending = 0;
    this.counts.byWorker++;
    if (reply.id > this.#outdatedUpTo) this.#logFrames = reply.logFrames;
    this.#release(reply.id, true);
  }

  #fail(reason: string): void {
    if (this.#failed || this.#closed) return;
    this.#failed = true;
    this.#worker?.terminate();
    this.#worker = null;
    this.#release(Infinity, false);
    this.#options.onFailure(reason);
  }

  #release(upTo: number, done: boolean): void {
    for (const [id, resolve] of this.#waiting) {
      if (id > upTo) continue;
      this.#waiting.delete(id);
      resolve(done);
    }
  }
}
