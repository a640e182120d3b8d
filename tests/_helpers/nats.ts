/**
 * A real `nats-server -js` (Debian's nats-server) on a free loopback port,
 * for the cluster tests (issue 19). Installed with apt-get when missing;
 * `natsServerPath` is null when it cannot be, and the tests say so.
 */

import { freeze } from "./freeze.ts";
import { ChatProcess } from "./process.ts";

async function found(): Promise<string | null> {
  for (const path of ["/usr/sbin/nats-server", "/usr/bin/nats-server"]) {
    try {
      await Deno.stat(path);
      return path;
    } catch {
      // Not there.
    }
  }
  return null;
}

/** The nats-server binary, installed first if it can be (root, apt-get). */
export async function natsServerPath(): Promise<string | null> {
  const path = await found();
  if (path !== null || Deno.build.os !== "linux") return path;
  await new Deno.Command("apt-get", {
    args: ["install", "-y", "nats-server"],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => {});
  return await found();
}

export interface NatsServer {
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RestartableNats extends NatsServer {
  /** Kills it at once (SIGKILL), as a crash would. */
  crash(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** Sends it `signal` (SIGCONT lets a frozen server go on). */
  signal(signal: Deno.Signal): void;
  /** Stops it with SIGSTOP; resolves once every thread of it has stopped. */
  freeze(): Promise<void>;
}

/**
 * Starts `nats-server -js` with its store in a fresh folder; resolves once
 * ready. `extra`: more arguments (`--user`, `--pass`).
 */
export async function startNats(
  binary: string,
  extra: readonly string[] = [],
): Promise<RestartableNats> {
  const dir = await Deno.makeTempDir({ prefix: "chat-nats-" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  let running = await spawnNats(binary, port, dir, extra);
  return {
    url: `nats://127.0.0.1:${port}`,
    async crash() {
      await running.stop("SIGKILL");
    },
    async restart() {
      running = await spawnNats(binary, port, dir, extra);
    },
    signal(signal) {
      running.signal(signal);
    },
    async freeze() {
      await freeze(running.pid);
    },
    async [Symbol.asyncDispose]() {
      await running.stop("SIGTERM");
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function spawnNats(
  binary: string,
  port: number,
  dir: string,
  extra: readonly string[],
): Promise<
  {
    readonly pid: number;
    stop(signal: Deno.Signal): Promise<void>;
    signal(signal: Deno.Signal): void;
  }
> {
  const child = new Deno.Command(binary, {
    args: [
      "-js",
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "-sd",
      dir,
      ...extra,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 15_000);
  try {
    while (!log.includes("Server is ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`nats-server did not start:\n${log}`);
      log += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  // Keep reading so that the pipe never fills.
  const draining = (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  let stopped = false;
  return {
    pid: child.pid,
    signal(signal) {
      if (!stopped) child.kill(signal);
    },
    async stop(signal) {
      if (stopped) return;
      stopped = true;
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
      await child.status;
      await draining;
    },
  };
}

/** Kills a process at once, as a crash would, and waits for it. */
export async function crash(process: ChatProcess): Promise<void> {
  process.kill("SIGKILL");
  await process.child.status;
}
