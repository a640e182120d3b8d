/**
 * Makes commits durable without blocking: an fdatasync of the write-ahead
 * log through a descriptor of our own, run by the runtime's worker threads.
 * A sync covers every commit made before it started, so one sync serves all
 * the commits that piled up while the previous one ran (group commit). This
 * gives the guarantee of `PRAGMA synchronous = FULL` in WAL mode (the log
 * synced before the commit is confirmed) to what the server replies;
 * SQLite still syncs the log before each checkpoint, as it does in NORMAL.
 * SQLite keeps the same log file (reset, not deleted) while it has the
 * database open, so one descriptor serves the whole session.
 */
export class WalSync {
  /** The database file; the log is beside it, with "-wal" appended. */
  readonly #dbPath: string;
  readonly #onFailure: (reason: string) => void;
  #file: Deno.FsFile | null = null;
  /** The most rows written that anyone waits for, and the last sync's. */
  #wanted = 0;
  #synced = 0;
  #running: Promise<void> | null = null;
  #waiting: { upTo: number; resolve: () => void }[] = [];
  #closed = false;

  /**
   * `alreadyWritten`: rows written while the store opened (its migrations),
   * which no reply waits for: lost to a power cut, they are lost together
   * (one transaction) and written again at the next open.
   */
  constructor(
    dbPath: string,
    onFailure: (reason: string) => void,
    alreadyWritten: number,
  ) {
    this.#dbPath = dbPath;
    this.#onFailure = onFailure;
    this.#synced = alreadyWritten;
    this.#wanted = alreadyWritten;
  }

  /**
   * Resolves once the writes up to `written` (the connection's running
   * count of rows written, read after they were committed) are synced;
   * null if they are.
   */
  after(written: number): Promise<void> | null {
    const upTo = written;
    if (upTo <= this.#synced) return null;
    if (upTo > this.#wanted) this.#wanted = upTo;
    const done = new Promise<void>((resolve) =>
      this.#waiting.push({ upTo, resolve })
    );
    this.#running ??= this.#syncLoop();
    return done;
  }

  close(): void {
    this.#closed = true;
    // A sync under way finishes first; the loop closes the file then.
    if (this.#running === null) this.#closeFile();
  }

  async #syncLoop(): Promise<void> {
    // Started at once, not at the end of the turn: the sender's `ok` waits
    // for it, and with a few messages in flight per sender the sync is about
    // half of their round trip (issue 21: starting it after the turn's
    // writes gave the 4 x 4 cell 207 k deliveries/s against 292 k).
    try {
      while (this.#waiting.length > 0 && !this.#closed) {
        const upTo = this.#wanted;
        try {
          // SQLite keeps the log beside the real file, not beside a
          // symlink to it. Opened for writing (never written): Windows
          // flushes only a handle with write access.
          this.#file ??= await Deno.open(
            `${await Deno.realPath(this.#dbPath)}-wal`,
            { read: true, write: true },
          );
          await this.#file.syncData();
        } catch (error) {
          // SQLite takes over the syncing, and syncs what waits (see
          // #syncFailed) before the replies go out.
          this.#closed = true;
          try {
            this.#onFailure(error instanceof Error ? error.message : "failed");
          } catch (failure) {
            console.error(`chat: ${failure}`);
          }
        }
        this.#synced = upTo;
        this.#release(upTo);
      }
      // Whatever waits when the store closes was committed; let it go.
      this.#release(Infinity);
    } finally {
      this.#running = null;
      if (this.#closed) this.#closeFile();
    }
  }

  #release(upTo: number): void {
    let released = 0;
    for (const waiter of this.#waiting) {
      if (waiter.upTo > upTo) break;
      waiter.resolve();
      released++;
    }
    this.#waiting.splice(0, released);
  }

  #closeFile(): void {
    try {
      this.#file?.close();
    } catch {
      // Already closed.
    }
    this.#file = null;
  }
}
