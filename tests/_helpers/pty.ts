/**
 * `main.ts` on a pseudo-terminal this test process holds itself (libc over
 * FFI, Linux), stdin, stdout and stderr all on it, as a person's: unlike
 * `script` (ChatProcess's `tty`), which stops relaying keys once its own
 * output is not read, keys typed here reach the program while its output
 * waits unread, as on a stalled ssh connection whose keystrokes still
 * arrive.
 */

import { mainArgs } from "./process.ts";
import { WAIT_MS } from "./patience.ts";

const O_RDWR = 0x2;
const O_NOCTTY = 0x100;
/** Not inherited by the program: it must hold the terminal's side only. */
const O_CLOEXEC = 0x80000;
const TIOCSWINSZ = 0x5414;
/** tcgetattr: the terminal's modes (struct termios). */
const TCGETS = 0x5401;
/** In struct termios's c_lflag (at byte 12): line editing, and echo. */
const ICANON = 0x2;
const ECHO = 0x8;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
const SYMBOLS = {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname: { parameters: ["i32"], result: "pointer" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  // On a thread of its own: it waits for the program's output.
  read: {
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

/** Whether a {@link PtyChat} can run here. */
export function hasOwnPty(): boolean {
  return Deno.build.os === "linux";
}

export class PtyChat {
  readonly child: Deno.ChildProcess;
  stdout = "";
  readonly #master: number;
  readonly #slave: number;
  #paused: PromiseWithResolvers<void> | null = null;
  #changed: (() => void)[] = [];
  #reading: Promise<void>;

  constructor(args: string[], env: Record<string, string>) {
    libc ??= Deno.dlopen("libc.so.6", SYMBOLS);
    const master = libc.symbols.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || libc.symbols.unlockpt(master) !== 0) {
      throw new Error("No pseudo-terminal");
    }
    this.#master = master;
    const name = new Deno.UnsafePointerView(libc.symbols.ptsname(master)!)
      .getCString();
    // 40 rows of 100 columns.
    const size = new Uint16Array([40, 100, 0, 0]);
    libc.symbols.ioctl(master, BigInt(TIOCSWINSZ), size);
    // Held until the program ended: the master reads EIO once no one has
    // the terminal open, which ends the reading.
    // (Deno.open refuses a device without --allow-all.)
    this.#slave = libc.symbols.open(
      new TextEncoder().encode(name + "\0"),
      O_RDWR | O_NOCTTY | O_CLOEXEC,
    );
    if (this.#slave < 0) throw new Error(`Cannot open ${name}`);
    this.child = new Deno.Command("sh", {
      args: [
        "-c",
        'exec "$@" <"$PTS" >"$PTS" 2>"$PTS"',
        "sh",
        Deno.execPath(),
        ...mainArgs(args),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      env: { NO_COLOR: "1", TERM: "xterm", PTS: name, ...env },
    }).spawn();
    this.#reading = this.#pumpMaster();
  }

  async #pumpMaster(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      // Not read meanwhile: the terminal's buffer fills, the program's
      // writes wait.
      await this.#paused?.promise;
      const got = Number(
        await libc!.symbols.read(this.#master, buffer, BigInt(buffer.length)),
      );
      if (got <= 0) break;
      this.stdout += decoder.decode(buffer.subarray(0, got), { stream: true });
      this.#wake();
    }
  }

  #wake(): void {
    const changed = this.#changed;
    this.#changed = [];
    for (const wake of changed) wake();
  }

  /** Stops reading the terminal's output, as a stalled ssh connection. */
  pauseStdout(): void {
    this.#paused ??= Promise.withResolvers<void>();
  }

  resumeStdout(): void {
    this.#paused?.resolve();
    this.#paused = null;
  }

  /**
   * Whether the terminal is in raw mode (no line editing, no echo), as a
   * program that never put it back leaves it: the shell after it then
   * shows no key typed, and Enter does not end a line.
   */
  raw(): boolean {
    const termios = new Uint8Array(64);
    if (libc!.symbols.ioctl(this.#slave, BigInt(TCGETS), termios) !== 0) {
      throw new Error("Cannot read the terminal's modes");
    }
    const lflag = new DataView(termios.buffer).getUint32(12, true);
    return (lflag & (ICANON | ECHO)) === 0;
  }

  /** Types `text` (keys reach the program even while its output waits). */
  type(text: string): void {
    const bytes = new TextEncoder().encode(text);
    const wrote = libc!.symbols.write(
      this.#master,
      bytes,
      BigInt(bytes.length),
    );
    if (Number(wrote) !== bytes.length) throw new Error("Typing failed");
  }

  /** Waits until stdout matches `pattern`. */
  async waitFor(pattern: RegExp, timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stdout)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${pattern}\nstdout:\n${this.stdout}`,
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

  /** Ends the program (if still running), and the reading of its output. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
    libc!.symbols.close(this.#slave);
    this.resumeStdout();
    await this.#reading;
    libc!.symbols.close(this.#master);
  }
}
