/**
 * A tmux pane running one command, read with `capture-pane`: a real terminal
 * emulator for tests of what a person sees.
 */

import { WAIT_MS } from "./patience.ts";

/** tmux is there, or can be installed (as root, with apt-get). */
export async function hasTmux(): Promise<boolean> {
  const found = () =>
    new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .output().then((r) => r.success, () => false);
  if (await found()) return true;
  if (Deno.build.os !== "linux") return false;
  await new Deno.Command("apt-get", {
    args: ["install", "-y", "tmux"],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => {});
  return await found();
}

const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

export class Pane {
  readonly socket = `chat-pane-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;

  async tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-u", "-L", this.socket, "-f", "/dev/null", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `tmux ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return new TextDecoder().decode(out.stdout);
  }

  start(command: string[], width = 100, height = 30): Promise<string> {
    return this.tmux(
      "new-session",
      "-d",
      "-x",
      String(width),
      "-y",
      String(height),
      command.map(quote).join(" "),
    );
  }

  /** Screen and scrollback, wrapped rows joined into their lines. */
  async lines(): Promise<string[]> {
    const text = await this.tmux("capture-pane", "-p", "-J", "-S", "-");
    return text.split("\n").map((line) => line.trimEnd());
  }

  /** Waits until `check` accepts the captured lines; returns them. */
  async waitFor(
    what: string,
    check: (lines: string[]) => boolean,
    timeoutMs = WAIT_MS,
  ): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = await this.lines();
      if (check(lines)) return lines;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; the pane shows:\n${
            lines.join("\n")
          }`,
        );
      }
      // Polling tmux, not waiting for time to pass: the check decides.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  type(text: string): Promise<string> {
    return this.tmux("send-keys", "-l", text);
  }

  /**
   * Pastes `text` as a terminal does: in large writes, not key by key
   * (and a line break as Enter, a carriage return).
   */
  async paste(text: string): Promise<void> {
    await this.tmux("set-buffer", "-b", "paste", "--", text);
    await this.tmux("paste-buffer", "-d", "-b", "paste");
  }

  keys(...keys: string[]): Promise<string> {
    return this.tmux("send-keys", ...keys);
  }

  /**
   * Types `line`, presses Enter, and resolves with `effect` (what the line
   * does, waited for: a reply on the pane, a message a client receives)
   * before anything more is typed. Lines a terminal gets within 15 ms of
   * each other are one paste (src/client/paste.ts), and a loaded machine's
   * pty can hand several over at once however far apart they were typed:
   * more than three are then asked about (`Send 4 lines? [y/N]`), not sent.
   * The effect must come after the line left the editor: not its echo, which
   * the terminal shows while it waits to see whether more lines follow.
   */
  async enterLine<T>(line: string, effect: () => Promise<T>): Promise<T> {
    await this.type(line);
    await this.keys("Enter");
    return await effect();
  }

  /**
   * Resizes the window and waits until the program can see it: tmux rewraps
   * its screen at once but tells the pane's terminal a moment later. Output
   * the program computed for the old width and that arrives in between
   * lands on the rewrapped screen: a race no program can see, so the test
   * does not run into it on purpose.
   */
  async resize(width: number): Promise<void> {
    await this.tmux("resize-window", "-x", String(width));
    const tty = (await this.tmux("display", "-p", "#{pane_tty}")).trim();
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const out = await new Deno.Command("stty", {
        args: ["-F", tty, "size"],
        stdout: "piped",
        stderr: "null",
      }).output();
      const [, columns] = new TextDecoder().decode(out.stdout).trim().split(
        " ",
      );
      if (Number(columns) === width) return;
      if (Date.now() > deadline) {
        throw new Error(
          `the pane's terminal never became ${width} wide within ${WAIT_MS} ms; it stayed ${columns}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.tmux("kill-server").catch(() => {});
  }
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * The Deno cache this test process uses: a pane given its own HOME keeps it
 * (DENO_DIR), since one under that HOME would start empty and the client's
 * first start would fetch and transpile everything (12-18 s on a loaded
 * machine, past the tests' waits).
 */
const DENO_DIR = (JSON.parse(
  new TextDecoder().decode(
    new Deno.Command(Deno.execPath(), { args: ["info", "--json"] })
      .outputSync().stdout,
  ),
) as { denoDir: string }).denoDir;

/**
 * The command that runs `chat connect` from the sources in a pane: the
 * permissions `deno task connect` gives it, its configuration under `dir`
 * (and its home too, with `home`), no colours, a plain terminal type, and
 * the server at `port` on this machine, checked against `dir`/public.pem.
 */
export function connectCommand(options: {
  dir: string;
  port: number | string;
  /** Null: no --user, the client asks for a name. */
  user: string | null;
  home?: boolean;
  args?: readonly string[];
}): string[] {
  const { dir } = options;
  return [
    "env",
    `XDG_CONFIG_HOME=${dir}/config`,
    ...(options.home ? [`HOME=${dir}`, `DENO_DIR=${DENO_DIR}`] : []),
    "NO_COLOR=1",
    "TERM=screen",
    Deno.execPath(),
    "run",
    "--quiet",
    "--allow-ffi",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run",
    "--allow-sys=statfs",
    MAIN,
    "connect",
    `127.0.0.1:${options.port}`,
    "--pub",
    `${dir}/public.pem`,
    ...options.user === null ? [] : ["--user", options.user],
    ...options.args ?? [],
  ];
}
