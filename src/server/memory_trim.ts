/**
 * Gives freed memory back to the system, after and during a load (issue 21
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
 * What stayed after a flood, and why (session 13, 99 x 2048 x 1000 B, read
 * from /proc/PID/smaps and glibc's malloc_info, by gdb, once the server had
 * been quiet 25 s): RSS 216 MiB against 104 before the load, of which
 * glibc's main heap (`[heap]`) 136 MiB; malloc_info counted 147 of that
 * arena's 175 MB free, in 3,100 chunks. So it was not pinned by live
 * chunks, only not given back: one more malloc_trim(0) took `[heap]` to
 * 30 MiB and RSS to 111 MiB. The other threads' arenas held under 3 MB
 * (MALLOC_ARENA_MAX would not help) and the V8 heap was back near idle.
 * That memory was freed after the last trim: V8 frees the load's
 * ArrayBuffers (frames, sealed bytes) at a collection that came 20-30 s
 * after the load, and the previous policy (a few trims once the queues were
 * empty, counted from RSS) had spent them by then. So the policy now reads
 * what malloc holds free (`mallinfo2`, or `mallinfo` before glibc 2.33)
 * and trims again whenever that, or the RSS, has moved since the last
 * trim, whenever that comes ({@link TrimPolicy}): 105 / 113 MiB before /
 * after the same cell.
 *
 * Not done: M_MMAP_THRESHOLD at 256 KiB (mallopt) keeps large buffers out
 * of the brk heap (`[heap]` 71 MiB under load in session 12) at the cost
 * of an mmap, a munmap and fresh page faults for every buffer that size.
 * Beside the trim policy it changed neither the peak (302-320 MiB against
 * 298-362) nor the RSS after (103-146 against 101-125 MiB) in an ABAB on
 * the shared machine, whose throughput figures were too noisy to price it.
 * The page faults were priced later, relaying files: the opposite setting
 * is made (keepFreedMemory), and the trims alone give memory back.
 */

/**
 * The V8 flags `chat serve` runs with: the `start`, `chat` and `build` tasks
 * in deno.json pass them (`--v8-flags=`), and the bench starts the server
 * with the `start` task's flags. They cannot be set from inside the process:
 * V8 freezes its flags once it is running.
 *
 * Why (issue 21 item 3, session 14): the peak RSS in the everyone-floods cell
 * (99 x 2048) rose with the cells run before it, 364-410 MiB alone against
 * 524 after the whole matrix. `--trace-gc` showed it was V8's old space,
 * and mostly garbage: under a flood the messages in flight outlive a
 * scavenge or two and are promoted, and a mark-compact found 37-55 MB live
 * in a heap of 176-217 MB (250-265 committed). V8 lets the old space grow
 * to up to 4 times what was live at the last mark-compact before it
 * collects again, and the factor it picks depends on how the heap grew
 * before (the earlier cells), hence the history. A growing factor of 2
 * (`--heap-growing-percent=100`) collects once the heap doubled. The
 * matrix's 99 x 2048 cells (16 and 100 B, two passes): 296-331 MiB against
 * 301-467 without it on the busy shared machine (load 7-16, ABAB), 301-417
 * against 437-509 when it was quiet (load 1.6), server CPU per delivery
 * the same within the noise; with 25 mark-compacts against 11 and no more
 * time in them (0.9 against 1.1 s of pauses and incremental steps in one
 * run each; scavenges took 6-9 s). The whole sequence (latency runs, then
 * the 12-cell matrix twice): 330-395 against 411-456 in the everyone-floods
 * cells. At 1.5 (50) the peak was the same with 57 mark-compacts.
 *
 * Not done: a smaller new space (`--max-semi-space-size`): it stays at 64
 * MiB from the first flood on, but scavenges are already most of the
 * collector's time, and a smaller one would promote more of what is in
 * flight.
 */
export const SERVER_V8_FLAGS: readonly string[] = [
  "--heap-growing-percent=100",
];

/** When a trim is worth it: the pure part, tested alone. */
export interface TrimPolicyOptions {
  /** Free bytes in malloc worth a trim, if some may be resident. */
  freedBytes: number;
  /**
   * How far malloc's free bytes, or the RSS up, must have moved since the
   * last trim for some free memory to be resident again (reused, then
   * freed).
   */
  movedBytes: number;
  /** No trim sooner than this after the last one. */
  intervalMs: number;
}

export const DEFAULT_TRIM_POLICY: TrimPolicyOptions = {
  freedBytes: 32 * 1024 * 1024,
  movedBytes: 8 * 1024 * 1024,
  intervalMs: 10_000,
};

/** One look at the process. */
export interface MemoryLook {
  /** Bytes malloc holds free, in every arena. */
  freeBytes: number;
  rss: number;
}

/**
 * Decides whether to trim now, from the bytes malloc holds free
 * (mallinfo2's `fordblks`) and the RSS: when at least `freedBytes` are
 * free and the count has moved by `movedBytes` since the last trim, or the
 * RSS has grown by that much, at most every
 * `intervalMs`, during a load or after it (whether the queues are empty
 * says little: session 10 saw one stay at its bound for 30 s after a
 * flood). Bytes a trim gave back are still counted free, so the count
 * alone cannot say what is resident; but free memory reused and freed
 * again, or freed late (V8 frees a load's ArrayBuffers at a collection
 * that may come 30 s after the load), moves it, unless it was reused and
 * freed between two looks, which the RSS shows. The RSS alone would be no
 * guide (V8's own heap moves it by 100 MiB at a collection), but a trim
 * that finds nothing to give back costs little (it walks the free chunks),
 * and a server whose memory does not move never trims.
 */
export class TrimPolicy {
  #freeAtTrim: number;
  #rssAtTrim: number;
  #moved = 0;
  #lastTrim = -Infinity;
  readonly #options: TrimPolicyOptions;

  constructor(start: MemoryLook, options: TrimPolicyOptions) {
    this.#freeAtTrim = start.freeBytes;
    this.#rssAtTrim = start.rss;
    this.#options = options;
  }

  /** Whether to trim, given a look at `now` (ms). */
  due(look: MemoryLook, now: number): boolean {
    const { freedBytes, movedBytes, intervalMs } = this.#options;
    this.#moved = Math.max(
      this.#moved,
      Math.abs(look.freeBytes - this.#freeAtTrim),
      look.rss - this.#rssAtTrim,
    );
    if (now - this.#lastTrim < intervalMs) return false;
    return look.freeBytes >= freedBytes && this.#moved >= movedBytes;
  }

  /** A trim that started at `now` and left `look`. */
  trimmed(look: MemoryLook, now: number): void {
    this.#freeAtTrim = look.freeBytes;
    this.#rssAtTrim = look.rss;
    this.#moved = 0;
    this.#lastTrim = now;
  }
}

/** How often the allocator's free bytes and the RSS are looked at. */
export const TRIM_CHECK_MS = 2000;

/** The parts of glibc's malloc the trimmer calls. */
interface Malloc {
  trim(pad: bigint): Promise<number>;
  /** glibc's `mallopt`: sets one of malloc's parameters; 1 when it took. */
  setOption(option: number, value: number): number;
  /** Bytes held free by the allocator, in every arena. */
  freeBytes(): number;
}

const MALLINFO_FIELDS = 10;
/** `fordblks`, the free bytes, in `struct mallinfo2` and `struct mallinfo`. */
const FORDBLKS = 8;

/** glibc's malloc, or null where it cannot be had without asking. */
function loadMalloc(): Malloc | null {
  if (Deno.build.os !== "linux") return null;
  try {
    // Never prompt: a server started without --allow-ffi just does not trim.
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return null;
    }
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32", nonblocking: true },
      mallopt: { parameters: ["i32", "i32"], result: "i32" },
      // glibc 2.33 and later; `mallinfo`'s int fields wrap past 2 GiB.
      mallinfo2: {
        parameters: [],
        result: { struct: Array(MALLINFO_FIELDS).fill("usize") },
        optional: true,
      },
      mallinfo: {
        parameters: [],
        result: { struct: Array(MALLINFO_FIELDS).fill("i32") },
        optional: true,
      },
    });
    const { mallinfo2, mallinfo } = libc.symbols;
    let freeBytes: () => number;
    if (mallinfo2) {
      freeBytes = () => {
        const info = mallinfo2();
        return Number(new DataView(info.buffer, info.byteOffset).getBigUint64(
          FORDBLKS * 8,
          true,
        ));
      };
    } else if (mallinfo) {
      freeBytes = () => {
        const info = mallinfo();
        return new DataView(info.buffer, info.byteOffset).getUint32(
          FORDBLKS * 4,
          true,
        );
      };
    } else {
      libc.close();
      return null;
    }
    return {
      trim: (pad) => libc.symbols.malloc_trim(pad),
      setOption: (option, value) => libc.symbols.mallopt(option, value),
      freeBytes,
    };
  } catch {
    // Not glibc (musl has no malloc_trim), or no FFI: nothing to do.
    return null;
  }
}

export interface MemoryTrimOptions {
  log(line: string): void;
  policy?: TrimPolicyOptions;
}

/** A running trimmer; `stop` ends its timer. */
export interface MemoryTrim {
  readonly active: boolean;
  /** Whether malloc keeps freed memory for the trims (keepFreedMemory). */
  readonly keepsFreedMemory: boolean;
  stop(): void;
}

/** mallopt's parameters (glibc's malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/**
 * Buffers up to this size come from malloc's heap, never from an mmap of
 * their own: the largest frame (1 MiB) and what `ws` joins one into.
 */
const HEAP_BUFFERS_UP_TO = 4 * 1024 * 1024;

/**
 * Has malloc keep what is freed for the next allocations, rather than give
 * it back to the system at once: the trims above give it back, every
 * TRIM_CHECK_MS at most, once it stays free.
 *
 * Why: relaying a file, the server takes a buffer of about 128 KiB for
 * every chunk (the frame `ws` joins from the socket's reads, the sealed
 * copy) and frees it a moment later. glibc's defaults give such memory
 * back to the system at the free (an mmap of its own each, past its 128 KiB
 * mmap threshold until a free raises it; or the top of the heap past twice
 * that, which the next buffer takes again), so every chunk landed in fresh
 * pages: 52,000 page faults per 256 MiB relayed in some runs against
 * 13,000 in others (/proc/PID/stat minflt), the server's CPU 1.8 against
 * 0.9 s, 63-68 against 123 MB/s one to one (loaded 2-core machine; at
 * 0953ecd, bench/BASELINE.md "Files: the server was faulting in fresh pages
 * for every chunk").
 */
function keepFreedMemory(malloc: Malloc): boolean {
  const mmap = malloc.setOption(M_MMAP_THRESHOLD, HEAP_BUFFERS_UP_TO);
  // Past what any one free leaves at the top of the heap under a load: the
  // trims, not each free, give it back.
  const top = malloc.setOption(M_TRIM_THRESHOLD, 2 ** 30);
  return mmap === 1 && top === 1;
}

/**
 * Looks at the allocator's free bytes and the RSS every
 * {@link TRIM_CHECK_MS} and trims when the policy says so; inactive (and costless) where glibc's
 * malloc cannot be called.
 */
export function startMemoryTrim(options: MemoryTrimOptions): MemoryTrim {
  const malloc = loadMalloc();
  if (malloc === null) {
    return { active: false, keepsFreedMemory: false, stop() {} };
  }
  const keepsFreedMemory = keepFreedMemory(malloc);
  const look = (): MemoryLook => ({
    freeBytes: malloc.freeBytes(),
    rss: Deno.memoryUsage().rss,
  });
  const policy = new TrimPolicy(look(), options.policy ?? DEFAULT_TRIM_POLICY);
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    const started = performance.now();
    const before = look();
    if (!policy.due(before, started)) return;
    running = true;
    malloc.trim(0n).then(() => {
      const after = look();
      policy.trimmed(after, started);
      const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
      options.log(
        `memory: gave back ${
          mib(before.rss - after.rss)
        } MiB of freed memory (RSS ${mib(before.rss)} -> ${
          mib(after.rss)
        } MiB, ${
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
    keepsFreedMemory,
    stop: () => clearInterval(timer),
  };
}
