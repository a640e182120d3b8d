/** Runs `main.ts` as a real process and reads its output as it arrives. */

import { freeze } from "./freeze.ts";
import { WAIT_MS } from "./patience.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * Identity keys and known hosts of test clients live here, never in the
 * config folder of whoever runs the tests.
 */
const CONFIG_HOME = Deno.makeTempDirSync({ prefix: "chat-test-config-" });
const PERMISSIONS = [
  "--allow-ffi",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys=statfs,networkInterfaces,hostname",
];

/**
 * The arguments of `deno` that run main.ts with `args`, with the
 * permissions the suite's chat processes get: for a test that spawns one
 * itself (its pipes its own).
 */
export function mainArgs(args: string[]): string[] {
  return ["run", "--quiet", ...PERMISSIONS, MAIN, ...args];
}

export class ChatProcess {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reading: Promise<void>;
  #changed: (() => void)[] = [];
  /** While set, stdout is not read: the pipe fills and the process's writes wait. */
  #stdoutPaused: PromiseWithResolvers<void> | null = null;
  /** Set once the process has exited and all it wrote has been read. */
  #ended: Deno.CommandStatus | null = null;

  constructor(
    args: string[],
    options: {
      cwd?: string;
      env?: Record<string, string>;
      /** Run under this umask (octal, e.g. "000"), set by a shell first. */
      umask?: string;
      /**
       * Run on a pseudo-terminal (util-linux `script`, see {@link hasPty}):
       * stdin and stdout are then a terminal, as for a person.
       */
      tty?: boolean;
      /**
       * Given each piece of stdout as it is read: for output too large to
       * search again at every piece, as `waitFor` does.
       */
      onStdout?: (text: string) => void;
    } = {},
  ) {
    const [program, programArgs] = launcher(options, mainArgs(args));
    this.child = new Deno.Command(program, {
      args: programArgs,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", XDG_CONFIG_HOME: CONFIG_HOME, ...options.env },
      ...(options.cwd ? { cwd: options.cwd } : {}),
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.#reading = Promise.all([
      this.#pump(
        this.child.stdout,
        (text) => {
          this.stdout += text;
          options.onStdout?.(text);
        },
        () => this.#stdoutPaused?.promise,
      ),
      this.#pump(this.child.stderr, (text) => (this.stderr += text)),
    ]).then(() => {});
    // A wait for output that can no longer come ends when the process does,
    // not at its time limit: a server that dies at start says why at once.
    Promise.all([this.child.status, this.#reading]).then(([status]) => {
      this.#ended = status;
      const changed = this.#changed;
      this.#changed = [];
      for (const wake of changed) wake();
    }, () => {});
  }

  async #pump(
    stream: ReadableStream<Uint8Array>,
    append: (text: string) => void,
    paused: () => Promise<void> | undefined = () => undefined,
  ): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      append(decoder.decode(chunk, { stream: true }));
      const changed = this.#changed;
      this.#changed = [];
      for (const wake of changed) wake();
      // Not read meanwhile: a stream is pulled only when iterated.
      await paused();
    }
  }

  /**
   * Stops reading the process's stdout, as a program that reads it no more:
   * once the pipe is full, its writes to stdout wait.
   */
  pauseStdout(): void {
    this.#stdoutPaused ??= Promise.withResolvers<void>();
  }

  /** Reads stdout again (see pauseStdout). */
  resumeStdout(): void {
    this.#stdoutPaused?.resolve();
    this.#stdoutPaused = null;
  }

  /** Waits until stdout matches `pattern`; returns the match. */
  waitFor(pattern: RegExp, timeoutMs = WAIT_MS): Promise<RegExpMatchArray> {
    return this.#waitFor(() => this.stdout, pattern, timeoutMs);
  }

  /** Waits until stderr (where a script's errors go) matches `pattern`. */
  waitForStderr(
    pattern: RegExp,
    timeoutMs = WAIT_MS,
  ): Promise<RegExpMatchArray> {
    return this.#waitFor(() => this.stderr, pattern, timeoutMs);
  }

  #waitFor(
    text: () => string,
    pattern: RegExp,
    timeoutMs: number,
  ): Promise<RegExpMatchArray> {
    return this.waitUntil(
      () => text().match(pattern),
      String(pattern),
      timeoutMs,
    );
  }

  /**
   * Waits until `check` (of what the process wrote so far, on either
   * stream) gives something: null, undefined and false mean "not yet", so
   * a boolean check (`() => out.includes(line)`) waits for true. A number is
   * refused by the type: 0 or -1 (a count, an `indexOf`) would pass at once.
   */
  async waitUntil<T extends object | string | true>(
    check: () => T | false | null | undefined,
    what: string,
    timeoutMs = WAIT_MS,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = check();
      if (found !== false && found !== null && found !== undefined) {
        return found;
      }
      if (this.#ended) {
        throw new Error(
          `exited (code ${this.#ended.code}${
            this.#ended.signal ? `, ${this.#ended.signal}` : ""
          }) while waiting for ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#changed.push(resolve);
        timer = setTimeout(resolve, Math.min(left, 250));
      });
      clearTimeout(timer);
    }
  }

  async write(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  async closeStdin(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  /** Waits for exit (closing stdin first) and for all output. */
  async finish(): Promise<Deno.CommandStatus> {
    await this.closeStdin();
    const status = await this.child.status;
    await this.#reading;
    return status;
  }

  /**
   * Stops the process with SIGSTOP and resolves once every thread of it has
   * stopped (a signal sent is not yet a process stopped).
   */
  async freeze(): Promise<void> {
    await freeze(this.child.pid);
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * `deno` with `args`; or, to set a umask or give it a terminal, a shell
 * command run by `sh` or by `script` (which runs it on a new pseudo-terminal
 * and relays our pipes to it).
 */
function launcher(
  options: { umask?: string; tty?: boolean },
  args: string[],
): [string, string[]] {
  if (options.umask === undefined && !options.tty) {
    return [Deno.execPath(), args];
  }
  if (options.umask !== undefined && !/^[0-7]{3,4}$/.test(options.umask)) {
    throw new TypeError(`Bad umask '${options.umask}'`);
  }
  const command =
    (options.umask === undefined ? "" : `umask ${options.umask} && `) +
    `exec ${[Deno.execPath(), ...args].map(shellQuote).join(" ")}`;
  return options.tty
    ? ["script", [
      "--quiet",
      "--return",
      "--flush",
      "--command",
      command,
      "/dev/null",
    ]]
    : ["sh", ["-c", command]];
}

/**
 * `command` run by sh on a pseudo-terminal (util-linux `script`, see
 * {@link hasPty}): what it writes to the terminal is the child's stdout,
 * what the test writes to the child's stdin is typed.
 */
export function onPty(
  command: string,
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command("script", {
    args: ["--quiet", "--flush", "--command", command, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
}

/** `word` quoted for sh. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Whether {@link ChatProcess} can run a process on a pseudo-terminal: util-linux
 * `script` (Debian's bsdutils, an essential package) is installed, or could be
 * installed here (as root, with apt-get, as bench/_servers.ts does for ngircd).
 */
export async function hasPty(): Promise<boolean> {
  const found = () =>
    new Deno.Command("script", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output().then((r) => r.success, () => false);
  if (await found()) return true;
  // Fails harmlessly where we are not root or apt-get is not there.
  if (Deno.build.os !== "linux") return false;
  await new Deno.Command("apt-get", {
    args: ["install", "-y", "bsdutils"],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => {});
  return await found();
}

/** A 2048-bit server key pair in `dir` (fast); throws if `keygen` fails. */
export async function makeKeys(dir: string): Promise<void> {
  const keygen = new ChatProcess(["keygen", "--bits", "2048", "--out", dir]);
  const status = await keygen.finish();
  if (status.code !== 0) throw new Error(`keygen failed: ${keygen.stderr}`);
}

/** `main.ts serve` on 127.0.0.1 with the key in `keyDir`, plus `extra` options. */
export function serveProcess(
  keyDir: string,
  port: number | string = 0,
  ...extra: string[]
): ChatProcess {
  return new ChatProcess([
    "serve",
    "--key",
    `${keyDir}/private.pem`,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    ...extra,
  ]);
}

/**
 * How long a server process may take to start: load modules, open its
 * store, make its certificate and, as a cluster node, meet NATS. Two nodes
 * started together on the 2-core machine under load 15 took 3 to 13 s to
 * listen and join, and one took more than the 15 s every wait then got
 * (cluster_file_flood_test: nothing printed yet). A server that never starts
 * still fails the test, later.
 */
export const STARTUP_MS = 60_000;

/** The port a server process says it listens on. */
export async function listeningPort(server: ChatProcess): Promise<string> {
  const [, port] = await server.waitFor(
    /listening on ws:\/\/127\.0\.0\.1:(\d+)/,
    STARTUP_MS,
  );
  return port!;
}
