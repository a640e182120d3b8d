/**
 * Gives freed memory back to the system, during and after a load (issue 21
 * item 3).
 *
 * Why it is needed: under a flood the server allocates and frees many
 * buffers outside the JS heap (frames, sealed bytes, socket writes) through
 * glibc's malloc. glibc raises its mmap threshold once large buffers are
 * freed, so later ones come from the brk heap, which it returns to the
 * system only from the top: after the load the process kept 0.6-0.8 GiB
 * resident with about 20 MiB of live JS (bench/BASELINE.md). `malloc_trim(0)`
 * releases the free pages anywhere in the heap (madvise), which no
 * environment variable the server could set for itself would do without
 * slowing every allocation.
 *
 * It is called through FFI, so only where that is possible: Linux with
 * glibc, and a process given `--allow-ffi` (the tasks and the build give
 * it); elsewhere nothing is done and nothing is asked. The call runs on a
 * worker thread (`nonblocking`), so the event loop does not wait for it
 * (it took 0.1-0.5 s on a 375 MiB heap here).
 *
 * What stays after a flood, and why (session 12, 99 x 2048 x 1000 B, read
 * from /proc/PID/smaps once the server had been quiet 30 s): RSS 265 MiB
 * against 103 MiB before the load, of which glibc's main brk heap
 * (`[heap]`) 183 MiB (9 MiB at idle); the V8 heap was back to 15-19 MiB
 * (`Deno.memoryUsage().heapTotal`, 26-29 at idle), its ArrayBuffers to
 * 11 MiB, and the other threads' arenas held next to nothing (so
 * MALLOC_ARENA_MAX would not help). Three trims 10 s apart did not shrink
 * the brk heap further: what is left there is in use or pinned by live
 * chunks between free ones, which malloc_trim cannot give back. Setting
 * M_MMAP_THRESHOLD to 256 KiB (mallopt, by FFI) kept large buffers out of
 * it (`[heap]` 71 MiB in one run, under load) but was not measured against
 * throughput, so it is not done.
 */

/** When a trim is worth it: the pure part, tested alone. */
export interface TrimPolicyOptions {
  /** RSS this much above a mark is worth a trim. */
  growthBytes: number;
  /** No trim sooner than this after the last one. */
  intervalMs: number;
  /** At most this much queued for recipients: the load is over. */
  quietQueuedBytes: number;
  /**
   * Trims once the load is over, `intervalMs` apart, while RSS stays
   * `growthBytes` above the lowest. More than one: V8 frees the load's dead
   * buffers only at its next full collection, which may come after the
   * first of them.
   */
  quietTrims: number;
}

export const DEFAULT_TRIM_POLICY: TrimPolicyOptions = {
  growthBytes: 64 * 1024 * 1024,
  intervalMs: 10_000,
  quietQueuedBytes: 1024 * 1024,
  quietTrims: 3,
};

/**
 * Decides, from one look at the process, whether to trim now. Two cases:
 * during a load, once RSS has grown by `growthBytes` since the last trim
 * (bounding the peak: freed buffers are reused less than they pile up);
 * and once the load is over (little queued), up to `quietTrims` trims while
 * RSS is still `growthBytes` above the lowest it has been, which is what
 * brings it back to near idle.
 */
export class TrimPolicy {
  #sinceTrim: number;
  #lowest: number;
  #lastTrim = -Infinity;
  /** Trims since the load was last over (reset by the next load). */
  #quietTrimmed = 0;
  readonly #options: TrimPolicyOptions;

  constructor(startRss: number, options: TrimPolicyOptions) {
    this.#sinceTrim = startRss;
    this.#lowest = startRss;
    this.#options = options;
  }

  /** Whether to trim, given the RSS and the bytes queued at `now` (ms). */
  due(rss: number, queuedBytes: number, now: number): boolean {
    const { growthBytes, intervalMs, quietQueuedBytes, quietTrims } =
      this.#options;
    // RSS that fell by itself (V8 giving pages back) lowers the marks too.
    this.#sinceTrim = Math.min(this.#sinceTrim, rss);
    this.#lowest = Math.min(this.#lowest, rss);
    const quiet = queuedBytes <= quietQueuedBytes;
    if (!quiet) this.#quietTrimmed = 0;
    if (now - this.#lastTrim < intervalMs) return false;
    if (rss - this.#sinceTrim >= growthBytes) return true;
    return quiet && this.#quietTrimmed < quietTrims &&
      rss - this.#lowest >= growthBytes;
  }

  /** A trim that started at `now`, with `queuedBytes` queued, left `rss`. */
  trimmed(rss: number, queuedBytes: number, now: number): void {
    this.#sinceTrim = rss;
    this.#lastTrim = now;
    if (queuedBytes <= this.#options.quietQueuedBytes) this.#quietTrimmed++;
  }
}

/** How often RSS is looked at. */
export const TRIM_CHECK_MS = 2000;

type MallocTrim = (pad: bigint) => Promise<number>;

/** glibc's malloc_trim, or null where it cannot be had without asking. */
function loadMallocTrim(): MallocTrim | null {
  if (Deno.build.os !== "linux") return null;
  try {
    // Never prompt: a server started without --allow-ffi just does not trim.
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return null;
    }
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32", nonblocking: true },
    });
    return (pad) => libc.symbols.malloc_trim(pad);
  } catch {
    // Not glibc (musl has no malloc_trim), or no FFI: nothing to do.
    return null;
  }
}

export interface MemoryTrimOptions {
  /** Bytes queued for recipients now (the backpressure gauge). */
  queuedBytes(): number;
  log(line: string): void;
  policy?: TrimPolicyOptions;
}

/** A running trimmer; `stop` ends its timer. */
export interface MemoryTrim {
  readonly active: boolean;
  stop(): void;
}

/**
 * Looks at the RSS every {@link TRIM_CHECK_MS} and trims when the policy
 * says so; inactive (and costless) where malloc_trim cannot be called.
 */
export function startMemoryTrim(options: MemoryTrimOptions): MemoryTrim {
  const mallocTrim = loadMallocTrim();
  if (mallocTrim === null) return { active: false, stop() {} };
  const policy = new TrimPolicy(
    Deno.memoryUsage().rss,
    options.policy ?? DEFAULT_TRIM_POLICY,
  );
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    const before = Deno.memoryUsage().rss;
    const queued = options.queuedBytes();
    const started = performance.now();
    if (!policy.due(before, queued, started)) return;
    running = true;
    mallocTrim(0n).then(() => {
      const after = Deno.memoryUsage().rss;
      policy.trimmed(after, queued, started);
      const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
      options.log(
        `memory: gave back ${mib(before - after)} MiB of freed memory (RSS ${
          mib(before)
        } -> ${mib(after)} MiB, ${
          Math.round(performance.now() - started)
        } ms on a worker thread)`,
      );
    }, () => {}).finally(() => {
      running = false;
    });
  }, TRIM_CHECK_MS);
  // A server with nothing else to do must still be able to exit.
  Deno.unrefTimer(timer);
  return {
    active: true,
    stop: () => clearInterval(timer),
  };
}
