/**
 * The lines `chat connect --json` writes (or a script's: stdin not a
 * terminal; or a person's terminal, its drawing too), queued and written to
 * stdout in the background, in order. A program that stops reading our
 * stdout fills the pipe (as a terminal that stops taking output fills its
 * buffer: an ssh connection whose window is full, a suspended tmux); a
 * synchronous write would then stop the whole client (its keepalive answers
 * too) until the server dropped it. Here a line is queued
 * at once and the client goes on; past {@link STDOUT_BACKLOG_BYTES} unread
 * the queue says it is behind, and the session stops taking messages from
 * the server until it has caught up (session.ts), so nothing is dropped and
 * what the client holds stays bounded.
 *
 * @module
 */

/**
 * Bytes of output waiting for the reader before it counts as behind: the
 * server's own per-client cut-off (32 MiB, maxBacklogBytes in config.ts), so
 * that a client holds no more for its reader than the server would for the
 * client. It is also more than the JSON of the largest backlog one
 * registration delivers (a page of 1000 missed messages and 1 MiB of bodies,
 * docs/PROTOCOL.md 5.3): a program that reads, if slowly, never sees the
 * client stop taking messages because it reconnected.
 */
export const STDOUT_BACKLOG_BYTES = 32 * 1024 * 1024;

/**
 * Lines waiting for the reader before it counts as behind, however short:
 * each queued line costs the client far more than its bytes (its buffer,
 * and the acknowledgement waiting for it), about 1 KiB. Counted in bytes
 * alone, 32 MiB of a host's "hi" lines were 800,000 lines and 880 MB
 * resident. Still far more than the 1000 missed messages one registration
 * delivers.
 */
export const STDOUT_BACKLOG_LINES = 16_384;

/** Where the bytes go: Deno.stdout, or a test's. */
export interface ByteSink {
  /** Writes some of `bytes` (at least one), resolving with how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Lines are written in chunks of about this size: fewer system calls. */
const CHUNK_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/**
 * How long the last flush before the exit waits with nothing read from
 * stdout before it gives up (StdoutQueue.finalFlush).
 */
export const FINAL_FLUSH_STALL_MS = 5000;

/** Output given up on (StdoutQueue.finalFlush): lines and bytes not written. */
export interface Unwritten {
  lines: number;
  bytes: number;
  /** Stdout could not be written any more (not merely not read). */
  gone: boolean;
}

/**
 * Said on stderr when the output could not all be written before the exit
 * though its reader is still there (one gone is not told: main.ts).
 */
export function unwrittenText(unwritten: Unwritten, stallMs: number): string {
  return `chat: ${unwritten.lines} line(s) of output (${unwritten.bytes} bytes) were not written to stdout: nothing read it for ${
    stallMs / 1000
  } s`;
}

export class StdoutQueue {
  #sink: ByteSink;
  #lines: Uint8Array[] = [];
  /** The last of `#lines` is a redraw (writeRedraw), not yet taken. */
  #redrawAtTail = false;
  #bytes = 0;
  #behind = false;
  #writing = false;
  #failure: Error | null = null;
  #caughtUp: PromiseWithResolvers<void> | null = null;
  #flushed: PromiseWithResolvers<void> | null = null;
  #gone = Promise.withResolvers<Error>();
  #listeners: ((behind: boolean) => void)[] = [];
  /** Bytes ever queued, and ever written: positions in the output. */
  #queuedTotal = 0;
  #writtenTotal = 0;
  /** Bytes the reader took, parts of a chunk too: whether it reads at all. */
  #taken = 0;
  /** Lines ever queued, and ever written whole. */
  #queuedLines = 0;
  #writtenLines = 0;
  /** Who waits for the output to be written up to `at`, in order of `at`. */
  #written: { at: number; resolve: () => void }[] = [];

  /** Lines queued past which the reader is behind too; caught up at half. */
  readonly highLines: number;

  /**
   * Behind past `highBytes` queued, or past `highLines` lines; caught up
   * again at `lowBytes` (half by default: the session does not flip between
   * the two with every line) and half `highLines`.
   */
  constructor(
    sink: ByteSink,
    readonly highBytes = STDOUT_BACKLOG_BYTES,
    readonly lowBytes = highBytes / 2,
    { highLines = STDOUT_BACKLOG_LINES }: { highLines?: number } = {},
  ) {
    if (!(lowBytes >= 0 && lowBytes <= highBytes)) {
      throw new RangeError("The low-water mark must be within 0 .. highBytes");
    }
    if (!(highLines >= 1)) throw new RangeError("highLines must be at least 1");
    this.#sink = sink;
    this.highLines = highLines;
  }

  /** Queues `line` and a newline; never waits. */
  write(line: string): void {
    this.writeText(line + "\n");
  }

  /**
   * Queues `text` as it is (a terminal's drawing: a line, the input block
   * erased and drawn again), in order with the lines; never waits. Each
   * call counts as one line toward `highLines`.
   */
  writeText(text: string): void {
    this.#queue(text, false);
  }

  /**
   * Queues `text` as a redraw of the terminal's input block (a key typed,
   * a transfer's progress): as writeText, but the next redraw may replace
   * it while it waits (replaceRedraw).
   */
  writeRedraw(text: string): void {
    this.#queue(text, true);
  }

  /**
   * Replaces the redraw queued last with `text` (none if empty), as long as
   * nothing was queued after it and it is not yet taken for writing: a
   * terminal that takes no output (a stalled ssh connection) then keeps one
   * redraw waiting, not one per key typed or per transfer's progress, each
   * counting toward `highLines`. False, and nothing done, otherwise: the
   * caller queues its redraw as one more (writeRedraw).
   */
  replaceRedraw(text: string): boolean {
    if (!this.#redrawAtTail || this.#failure !== null) return false;
    const old = this.#lines.pop()!;
    this.#redrawAtTail = false;
    this.#bytes -= old.byteLength;
    this.#queuedTotal -= old.byteLength;
    this.#queuedLines--;
    this.#queue(text, true);
    // Who waited for the output up to the old redraw's end waits up to the
    // new one's (it may be shorter, or gone).
    for (let i = this.#written.length - 1; i >= 0; i--) {
      const waiter = this.#written[i]!;
      if (waiter.at <= this.#queuedTotal) break;
      waiter.at = this.#queuedTotal;
    }
    while (
      this.#written.length > 0 && this.#written[0]!.at <= this.#writtenTotal
    ) this.#written.shift()!.resolve();
    return true;
  }

  #queue(text: string, redraw: boolean): void {
    // No one reads them any more.
    if (this.#failure !== null || text === "") return;
    this.#redrawAtTail = redraw;
    const bytes = encoder.encode(text);
    this.#lines.push(bytes);
    this.#bytes += bytes.byteLength;
    this.#queuedTotal += bytes.byteLength;
    this.#queuedLines++;
    if (
      !this.#behind &&
      (this.#bytes > this.highBytes || this.#lines.length > this.highLines)
    ) this.#setBehind(true);
    if (!this.#writing) void this.#drain();
  }

  /** Lines queued and not yet taken for writing. */
  get queuedLines(): number {
    return this.#lines.length;
  }

  /** Nothing is queued or being written: a write now goes out first. */
  get idle(): boolean {
    return this.#lines.length === 0 && !this.#writing;
  }

  /** Bytes queued and not yet written. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Whether the reader has fallen behind (past `highBytes`, not yet back at `lowBytes`). */
  get behind(): boolean {
    return this.#behind;
  }

  /** Null while the reader keeps up; else resolves once it has caught up. */
  caughtUp(): Promise<void> | null {
    if (!this.#behind) return null;
    this.#caughtUp ??= Promise.withResolvers<void>();
    return this.#caughtUp.promise;
  }

  /** Called with true when the reader falls behind, false when it caught up. */
  onBehind(listener: (behind: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Resolves once every line queued so far is written (while later lines
   * may still be queued): a message is acknowledged to the server only
   * then, so a program killed with lines unread gets them again. Never
   * resolves if stdout cannot be written any more (`gone`).
   */
  written(): Promise<void> {
    const at = this.#queuedTotal;
    if (this.#writtenTotal >= at) return Promise.resolve();
    const waiter = Promise.withResolvers<void>();
    this.#written.push({ at, resolve: waiter.resolve });
    return waiter.promise;
  }

  /** Resolves once every line queued so far is written (or writing failed). */
  flushed(): Promise<void> {
    if (this.#lines.length === 0 && !this.#writing) return Promise.resolve();
    this.#flushed ??= Promise.withResolvers<void>();
    return this.#flushed.promise;
  }

  /**
   * The last flush, before the process exits: waits for every line queued
   * to be written for as long as the reader keeps taking some, and gives up
   * once `stallMs` pass with nothing written (a program that closed its
   * input to us but never reads our output would otherwise keep us forever).
   * Resolves with what was not written: none when all of it was.
   */
  async finalFlush(stallMs: number): Promise<Unwritten> {
    for (;;) {
      const before = this.#taken;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<"stalled">((resolve) => {
        timer = setTimeout(() => resolve("stalled"), stallMs);
      });
      const outcome = await Promise.race([this.flushed(), stalled]);
      clearTimeout(timer);
      // Written, or the reader took nothing for the whole stretch.
      if (outcome !== "stalled" || this.#taken === before) break;
    }
    return {
      lines: this.#queuedLines - this.#writtenLines,
      bytes: this.#queuedTotal - this.#writtenTotal,
      gone: this.#failure !== null,
    };
  }

  /**
   * Resolves with the error once stdout cannot be written (the reader closed
   * its end): what was queued is dropped, as is all that comes after.
   */
  get gone(): Promise<Error> {
    return this.#gone.promise;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#lines.length > 0) {
        const { chunk, lines } = this.#takeChunk();
        let written = 0;
        while (written < chunk.byteLength) {
          const some = await this.#sink.write(chunk.subarray(written));
          written += some;
          this.#taken += some;
        }
        this.#bytes -= chunk.byteLength;
        this.#writtenTotal += chunk.byteLength;
        this.#writtenLines += lines;
        while (
          this.#written.length > 0 && this.#written[0]!.at <= this.#writtenTotal
        ) this.#written.shift()!.resolve();
        if (
          this.#behind && this.#bytes <= this.lowBytes &&
          this.#lines.length <= this.highLines / 2
        ) {
          this.#setBehind(false);
        }
      }
    } catch (error) {
      this.#failure = error instanceof Error ? error : new Error(String(error));
      this.#lines = [];
      this.#redrawAtTail = false;
      this.#bytes = 0;
      // Not written: never acknowledged (the server sends them again).
      this.#written = [];
      // Whoever waits for the reader goes on: there is none (`gone` says
      // so, not a catching up).
      this.#behind = false;
      this.#releaseWaiters();
      this.#gone.resolve(this.#failure);
    } finally {
      this.#writing = false;
    }
    const flushed = this.#flushed;
    this.#flushed = null;
    flushed?.resolve();
  }

  /**
   * The next lines, as one buffer of about CHUNK_BYTES (or one longer
   * line), and how many they are.
   */
  #takeChunk(): { chunk: Uint8Array; lines: number } {
    let count = 0;
    let size = 0;
    while (count < this.#lines.length && (count === 0 || size < CHUNK_BYTES)) {
      size += this.#lines[count]!.byteLength;
      count++;
    }
    const taken = this.#lines.splice(0, count);
    if (this.#lines.length === 0) this.#redrawAtTail = false;
    if (taken.length === 1) return { chunk: taken[0]!, lines: 1 };
    const chunk = new Uint8Array(size);
    let at = 0;
    for (const line of taken) {
      chunk.set(line, at);
      at += line.byteLength;
    }
    return { chunk, lines: taken.length };
  }

  #setBehind(behind: boolean): void {
    this.#behind = behind;
    if (!behind) this.#releaseWaiters();
    for (const listener of this.#listeners) listener(behind);
  }

  #releaseWaiters(): void {
    const caughtUp = this.#caughtUp;
    this.#caughtUp = null;
    caughtUp?.resolve();
  }
}
