/**
 * How the orchestrator (`bench/main.ts`) drives its load processes: one JSON
 * object per line on the child's stdin (commands) and stdout (replies).
 *
 *     -> {"id":3,"cmd":"fanout","args":{...}}
 *     <- {"id":3,"ok":true,"result":{...}}   or   {"id":3,"ok":false,"error":"..."}
 *
 * Commands run concurrently in the child; replies carry the command's id.
 * Everything else a child prints goes to stderr.
 */

import { cpuSeconds, rss } from "./_proc.ts";

export interface CommandLine {
  id: number;
  cmd: string;
  args: Record<string, unknown>;
}

export interface ReplyLine {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

// deno-lint-ignore no-explicit-any
export type Handler = (args: any) => Promise<unknown>;

/** The clock every process shares: wall-clock milliseconds, sub-ms precise. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Sleeps until the shared clock reads `at`. */
export function sleepUntil(at: number): Promise<void> {
  return sleep(at - now());
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Splits a byte stream into lines of text. */
export async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let end = buffered.indexOf("\n");
    while (end >= 0) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      end = buffered.indexOf("\n");
    }
  }
  if (buffered.length > 0) yield buffered;
}

/**
 * Child side: answers commands from stdin until it closes, then exits. A
 * child also exits on its own after `lifetimeMs`, so a lost orchestrator
 * never leaves load running.
 */
export async function serveCommands(
  handlers: Record<string, Handler>,
  lifetimeMs: number,
): Promise<never> {
  const lifetime = setTimeout(() => {
    console.error(`load process ${Deno.pid}: lifetime over, exiting`);
    Deno.exit(3);
  }, lifetimeMs);
  Deno.unrefTimer(lifetime);
  const encoder = new TextEncoder();
  const stdout = Deno.stdout.writable.getWriter();
  let writing = Promise.resolve();
  const reply = (line: ReplyLine) => {
    const bytes = encoder.encode(JSON.stringify(line) + "\n");
    writing = writing.then(() => stdout.write(bytes));
    return writing;
  };
  const running = new Set<Promise<unknown>>();
  for await (const text of lines(Deno.stdin.readable)) {
    if (text.trim() === "") continue;
    const command = JSON.parse(text) as CommandLine;
    if (command.cmd === "exit") break;
    const handler = handlers[command.cmd];
    const task = (async () => {
      try {
        if (handler === undefined) {
          throw new Error(`Unknown command '${command.cmd}'`);
        }
        const result = await handler(command.args);
        await reply({ id: command.id, ok: true, result });
      } catch (error) {
        await reply({ id: command.id, ok: false, error: messageOf(error) });
      }
    })();
    running.add(task);
    task.finally(() => running.delete(task));
  }
  await writing;
  Deno.exit(0);
}

/**
 * Spawns `argv` with the open-file limit raised as far as the hard limit
 * allows (`ulimit -n` belongs to the shell that starts us).
 */
export function spawnRaised(
  argv: string[],
  options: { env?: Record<string, string>; stdin?: "piped" | "null" } = {},
): Deno.ChildProcess {
  const script =
    'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
  return new Deno.Command("sh", {
    args: ["-c", script, "sh", ...argv],
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
}

/** Keeps the last `limit` characters of a stream's text, draining it fully. */
export class Tail {
  text = "";
  readonly done: Promise<void>;
  #onLine: ((line: string) => void) | null;

  constructor(
    stream: ReadableStream<Uint8Array>,
    onLine: ((line: string) => void) | null = null,
    readonly limit = 8192,
  ) {
    this.#onLine = onLine;
    this.done = this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const line of lines(stream)) {
        this.#onLine?.(line);
        this.text = (this.text + line + "\n").slice(-this.limit);
      }
    } catch {
      // The process went away; what we have is what there is.
    }
  }
}

/** Every child the orchestrator started, so that all of them die with it. */
export const children = new Set<Deno.ChildProcess>();

export function killAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  children.clear();
}

/** Parent side: one load process. */
export class LoadProcess {
  readonly child: Deno.ChildProcess;
  readonly label: string;
  readonly stderr: Tail;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #nextId = 1;
  #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  #exited = false;
  readonly #reading: Promise<void>;

  constructor(label: string, argv: string[]) {
    this.label = label;
    this.child = spawnRaised(argv, { stdin: "piped" });
    children.add(this.child);
    this.#writer = this.child.stdin.getWriter();
    this.stderr = new Tail(this.child.stderr);
    this.#reading = this.#read();
    this.child.status.then(() => {
      this.#exited = true;
      children.delete(this.child);
      this.#failAll(`${label} exited`);
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  async #read(): Promise<void> {
    for await (const text of lines(this.child.stdout)) {
      let reply: ReplyLine;
      try {
        reply = JSON.parse(text);
      } catch {
        console.error(`${this.label}: ${text}`);
        continue;
      }
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) continue;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(new Error(`${this.label}: ${reply.error}`));
    }
  }

  #failAll(reason: string): void {
    for (const pending of this.#pending.values()) {
      pending.reject(
        new Error(`${reason}\n${this.stderr.text.slice(-2000)}`),
      );
    }
    this.#pending.clear();
  }

  /** Sends a command; rejects if no reply comes within `timeoutMs`. */
  async call<T>(
    cmd: string,
    args: Record<string, unknown> = {},
    timeoutMs = 60_000,
  ): Promise<T> {
    if (this.#exited) throw new Error(`${this.label} has exited`);
    const id = this.#nextId++;
    const line = JSON.stringify({ id, cmd, args } satisfies CommandLine);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      timer = setTimeout(() => {
        this.#pending.delete(id);
        // What the process was doing, for the next one to look at: a load
        // process that stopped reading in a flood (BASELINE) was busy.
        void busyness(this.child.pid).then((state) =>
          reject(
            new Error(
              `${this.label}: '${cmd}' got no reply within ${timeoutMs} ms (${state})\n${
                this.stderr.text.slice(-2000)
              }`,
            ),
          )
        );
      }, timeoutMs);
    });
    try {
      await this.#writer.write(new TextEncoder().encode(line + "\n"));
      return await reply as T;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks the process to exit, then kills it if it does not within 3 s. */
  async stop(): Promise<void> {
    if (!this.#exited) {
      try {
        await this.#writer.write(
          new TextEncoder().encode(
            JSON.stringify({ id: 0, cmd: "exit", args: {} }) + "\n",
          ),
        );
        await this.#writer.close();
      } catch {
        // Its stdin is already gone.
      }
    }
    const timer = setTimeout(() => this.kill(), 3000);
    await this.child.status;
    clearTimeout(timer);
    await Promise.all([this.#reading.catch(() => {}), this.stderr.done]);
  }

  kill(): void {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** CPU use over a second and RSS of `pid`, in words. */
async function busyness(pid: number): Promise<string> {
  const before = await cpuSeconds(pid);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const after = await cpuSeconds(pid);
  const resident = await rss(pid);
  if (before === null || after === null || resident === null) {
    return "the process is gone";
  }
  return `the process used ${
    Math.round((after - before) * 100)
  } % of a core over a second, RSS ${Math.round(resident / 2 ** 20)} MiB`;
}
