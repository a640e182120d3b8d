/**
 * What Linux tells about a process: CPU time from /proc/PID/stat, memory from
 * /proc/PID/statm and /proc/PID/status.
 *
 * Deno 2 lets a program read /proc/PID only with --allow-all, so the files
 * are read by a small long-lived `sh` (shell builtins only: no process per
 * reading) and the bench keeps its exact permissions. All readers resolve to
 * null once the process is gone.
 */

import { lines } from "./_ipc.ts";

const READER = `
while read -r cmd pid; do
  case "$cmd" in
    stat|statm|status)
      if [ -r "/proc/$pid/$cmd" ]; then
        while IFS= read -r line; do echo "$line"; done < "/proc/$pid/$cmd"
      fi ;;
    clear)
      if (echo 5 > "/proc/$pid/clear_refs") 2>/dev/null; then echo ok; fi ;;
    cpu)
      read -r line < /proc/stat && echo "$line" ;;
    cpuinfo)
      while IFS= read -r line; do echo "$line"; done < /proc/cpuinfo ;;
  esac
  echo .
done`;

let ticksPerSecond = 100;
let pageSize = 4096;

class ProcReader {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #waiting: ((lines: string[]) => void)[] = [];
  #current: string[] = [];

  constructor() {
    this.#child = new Deno.Command("sh", {
      args: ["-c", READER],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#read();
  }

  async #read(): Promise<void> {
    for await (const line of lines(this.#child.stdout)) {
      if (line !== ".") {
        this.#current.push(line);
        continue;
      }
      const done = this.#current;
      this.#current = [];
      this.#waiting.shift()?.(done);
    }
  }

  ask(cmd: string, pid: number): Promise<string[]> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#writer.write(new TextEncoder().encode(`${cmd} ${pid}\n`)).catch(
        () => resolve([]),
      );
    });
  }

  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#child.status;
  }
}

let reader: ProcReader | null = null;

function proc(): ProcReader {
  reader ??= new ProcReader();
  return reader;
}

/** Reads the clock tick and page size once (100 and 4096 on usual Linux). */
export async function initProc(): Promise<void> {
  const getconf = async (name: string) => {
    try {
      const { stdout, success } = await new Deno.Command("getconf", {
        args: [name],
        stdout: "piped",
        stderr: "null",
      }).output();
      const value = Number(new TextDecoder().decode(stdout).trim());
      return success && Number.isFinite(value) && value > 0 ? value : null;
    } catch {
      return null;
    }
  };
  ticksPerSecond = await getconf("CLK_TCK") ?? ticksPerSecond;
  pageSize = await getconf("PAGESIZE") ?? pageSize;
}

/** Stops the /proc reader (the bench calls this once at the end). */
export async function closeProc(): Promise<void> {
  const r = reader;
  reader = null;
  await r?.close();
}

/** The CPU model named in /proc/cpuinfo. */
export async function cpuModel(): Promise<string> {
  const info = await proc().ask("cpuinfo", 0);
  const line = info.find((l) => /^model name\s*:/.test(l));
  return line?.replace(/^model name\s*:\s*/, "").trim() || "unknown";
}

/** User plus system CPU seconds of the whole process (all its threads). */
export async function cpuSeconds(pid: number): Promise<number | null> {
  const [text] = await proc().ask("stat", pid);
  if (text === undefined) return null;
  // The command name may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / ticksPerSecond;
}

/**
 * Minor page faults so far (field 10 of /proc/PID/stat): memory the process
 * touched for the first time, as when malloc hands out fresh pages for
 * each file chunk (src/server/memory_trim.ts, keepFreedMemory).
 */
export async function minorFaults(pid: number): Promise<number | null> {
  const [text] = await proc().ask("stat", pid);
  if (text === undefined) return null;
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); minflt is field 10.
  return Number(fields[7]);
}

/** Resident set size now, in bytes. */
export async function rss(pid: number): Promise<number | null> {
  const [text] = await proc().ask("statm", pid);
  if (text === undefined) return null;
  return Number(text.split(" ")[1]) * pageSize;
}

/** Peak resident set size (VmHWM), in bytes. */
export async function peakRss(pid: number): Promise<number | null> {
  const status = await proc().ask("status", pid);
  const line = status.find((l) => l.startsWith("VmHWM:"));
  const match = line?.match(/(\d+) kB/);
  return match ? Number(match[1]) * 1024 : null;
}

/**
 * Resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+, needs the
 * right to write /proc/PID/clear_refs). Returns whether it worked.
 */
export async function resetPeak(pid: number): Promise<boolean> {
  const [answer] = await proc().ask("clear", pid);
  return answer === "ok";
}

/**
 * Samples the RSS of some processes every `intervalMs` and keeps the
 * highest seen; combined with VmHWM where that could be reset first.
 */
export class PeakSampler {
  readonly #pids: number[];
  readonly #peaks = new Map<number, number>();
  readonly #hwmReset = new Map<number, boolean>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #sampling: Promise<void> = Promise.resolve();

  private constructor(pids: number[]) {
    this.#pids = pids;
  }

  static async start(pids: number[], intervalMs = 25): Promise<PeakSampler> {
    const sampler = new PeakSampler(pids);
    for (const pid of pids) sampler.#hwmReset.set(pid, await resetPeak(pid));
    await sampler.#sample();
    sampler.#timer = setInterval(() => {
      // One sample at a time; a slow one makes the next wait.
      sampler.#sampling = sampler.#sampling.then(() => sampler.#sample());
    }, intervalMs);
    return sampler;
  }

  async #sample(): Promise<void> {
    for (const pid of this.#pids) {
      const now = await rss(pid) ?? 0;
      this.#peaks.set(pid, Math.max(this.#peaks.get(pid) ?? 0, now));
    }
  }

  /** Stops sampling; returns each process's peak RSS in bytes. */
  async stop(): Promise<Map<number, number>> {
    clearInterval(this.#timer);
    await this.#sampling;
    await this.#sample();
    for (const pid of this.#pids) {
      if (!this.#hwmReset.get(pid)) continue;
      const hwm = await peakRss(pid) ?? 0;
      this.#peaks.set(pid, Math.max(this.#peaks.get(pid) ?? 0, hwm));
    }
    return this.#peaks;
  }
}

/** CPU seconds the whole machine spent busy (not idle or waiting), all CPUs. */
export async function machineBusySeconds(): Promise<number | null> {
  const [line] = await proc().ask("cpu", 0);
  if (line === undefined || !line.startsWith("cpu ")) return null;
  const ticks = line.split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - idle) / ticksPerSecond;
}

export interface CpuUse {
  /** Per process: CPU seconds used, and as a share of one core. */
  processes: { pid: number; seconds: number; cores: number }[];
  /** Cores kept busy by everything else on the machine meanwhile. */
  otherCores: number;
}

/** CPU seconds used by each process between `start()` and `stop()`. */
export class CpuMeter {
  readonly #pids: number[];
  #start: (number | null)[] = [];
  #machineStart: number | null = null;
  #startedAt = 0;

  constructor(pids: number[]) {
    this.#pids = pids;
  }

  async start(): Promise<void> {
    this.#startedAt = performance.now();
    [this.#start, this.#machineStart] = await Promise.all([
      Promise.all(this.#pids.map(cpuSeconds)),
      machineBusySeconds(),
    ]);
  }

  async stop(): Promise<CpuUse> {
    const wall = (performance.now() - this.#startedAt) / 1000;
    const [end, machineEnd] = await Promise.all([
      Promise.all(this.#pids.map(cpuSeconds)),
      machineBusySeconds(),
    ]);
    const processes = this.#pids.map((pid, i) => {
      const seconds = (end[i] ?? NaN) - (this.#start[i] ?? NaN);
      return { pid, seconds, cores: seconds / wall };
    });
    const ours = processes.reduce((n, p) => n + p.seconds, 0);
    const machine = (machineEnd ?? NaN) - (this.#machineStart ?? NaN);
    return { processes, otherCores: Math.max(0, (machine - ours) / wall) };
  }
}
