/**
 * Starting and stopping the servers under test, each as its own process so
 * that its CPU time and memory can be read from /proc: `chat serve`
 * (main.ts), the plain relay (bench/plain_relay.ts) and ngircd.
 */

import { children, sleep, spawnRaised, Tail } from "./_ipc.ts";

const ROOT = new URL("../", import.meta.url);
export const MAIN_TS = new URL("main.ts", ROOT).pathname;
export const PLAIN_RELAY_TS = new URL("bench/plain_relay.ts", ROOT).pathname;

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 8000;

export interface ServerProcess {
  readonly label: string;
  readonly pid: number;
  readonly port: number;
  readonly stdout: Tail;
  readonly stderr: Tail;
  readonly status: Promise<Deno.CommandStatus>;
  /** SIGTERM, then SIGKILL if it has not exited after a grace period. */
  stop(): Promise<void>;
}

/**
 * Spawns `argv` and waits for a line of its stdout matching `listening`
 * (whose first group is the port), or, without a pattern, for `port` to
 * accept TCP connections.
 */
async function startProcess(
  label: string,
  argv: string[],
  listening: RegExp | null,
  port = 0,
): Promise<ServerProcess> {
  const child = spawnRaised(argv);
  children.add(child);
  let found: (port: number) => void;
  const portFound = new Promise<number>((resolve) => (found = resolve));
  const stdout = new Tail(child.stdout, (line) => {
    const match = listening === null ? null : line.match(listening);
    if (match) found(Number(match[1]));
  });
  const stderr = new Tail(child.stderr);
  const status = child.status;
  status.then(() => children.delete(child));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${label} did not start within 30 s`)),
      START_TIMEOUT_MS,
    );
  });
  const exited = status.then((s) => {
    throw new Error(
      `${label} exited with status ${s.code} before listening:\n${stdout.text}\n${stderr.text}`,
    );
  });
  try {
    const actualPort = await Promise.race([
      listening === null ? waitForPort(port) : portFound,
      timeout,
      exited,
    ]);
    return {
      label,
      pid: child.pid,
      port: actualPort,
      stdout,
      stderr,
      status,
      async stop() {
        try {
          child.kill("SIGTERM");
        } catch {
          // Already gone.
        }
        const killer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // Already gone.
          }
        }, STOP_GRACE_MS);
        await status;
        clearTimeout(killer);
        await Promise.all([stdout.done, stderr.done]);
      },
    };
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    throw error;
  } finally {
    clearTimeout(timer);
    exited.catch(() => {});
  }
}

async function waitForPort(port: number): Promise<number> {
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return port;
    } catch {
      await sleep(50);
    }
  }
}

/** A free loopback port, found by letting the kernel pick one. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The permission flags of the project's `start` task, so that the bench runs the server as users do. */
export async function serverPermissions(): Promise<string[]> {
  const fallback = [
    "--allow-ffi",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
  ];
  try {
    const config = JSON.parse(
      await Deno.readTextFile(new URL("deno.json", ROOT)),
    );
    const start: string = config.tasks?.start ?? "";
    const flags = start.split(/\s+/).filter((w) =>
      w.startsWith("--allow") || w.startsWith("--v8-flags")
    );
    return flags.length > 0 ? flags : fallback;
  } catch {
    return fallback;
  }
}

/**
 * The `chat serve` options that lift its per-client limits, as far as this
 * version has them: the bench's clients all come from 127.0.0.1 and send as
 * fast as the server lets them, as ngircd's are allowed to.
 */
export async function liftedLimits(): Promise<
  { args: string[]; missing: string[] }
> {
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...await serverPermissions(), MAIN_TS, "serve", "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const help = new TextDecoder().decode(stdout);
  const wanted: [string, string][] = [
    ["--rate", "0"],
    ["--max-per-address", "20000"],
    ["--max-connections", "20000"],
    // Every bench client connects from 127.0.0.1, 10,000 of them at once.
    ["--handshake-rate", "0"],
    ["--max-unfinished", "20000"],
    ["--max-unfinished-per-address", "20000"],
    // What all the connections of one address may send and have queued.
    ["--rate-per-address", "0"],
    ["--max-backlog-per-address-mb", "0"],
  ];
  const args: string[] = [];
  const missing: string[] = [];
  for (const [flag, value] of wanted) {
    if (help.includes(flag)) args.push(flag, value);
    else missing.push(flag);
  }
  return { args, missing };
}

export interface ChatServerOptions {
  /** A folder holding `private.pem`; the server keeps its data beside it. */
  dir: string;
  port: number;
  permissions: string[];
  extraArgs: string[];
  /** Write a V8 CPU profile here when the server exits. */
  profileDir?: string;
}

export function startChatServer(
  options: ChatServerOptions,
): Promise<ServerProcess> {
  return startProcess(
    "chat serve",
    [
      Deno.execPath(),
      "run",
      ...options.permissions,
      ...(options.profileDir
        ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`]
        : []),
      MAIN_TS,
      "serve",
      "--key",
      `${options.dir}/private.pem`,
      "--host",
      "127.0.0.1",
      "--port",
      String(options.port),
      ...options.extraArgs,
    ],
    /listening on ws:\/\/127\.0\.0\.1:(\d+)/,
  );
}

export function startPlainRelay(): Promise<ServerProcess> {
  return startProcess(
    "plain relay",
    [Deno.execPath(), "run", "--allow-net", PLAIN_RELAY_TS, "--port", "0"],
    /listening on ws:\/\/127\.0\.0\.1:(\d+)/,
  );
}

export const IRC_OPERATOR = { name: "bench", password: "bench" };

/**
 * ngircd's configuration for the bench, with every flood limit that
 * ngircd.conf(5) offers lifted:
 * - MaxPenaltyTime = 0: no penalty delays at all (default -1: no limit on
 *   them); without it a client is made to wait 1 s whenever it sends more than
 *   3 commands per main-loop turn or 256 bytes per second.
 * - MaxConnectionsIP = 0 (default 5): all bench clients come from 127.0.0.1.
 * - MaxJoins = 0 (default 10), long ping timeouts, no DNS, IDENT or PAM
 *   lookups at connect.
 * - An [Operator] block: the bench's clients become IRC operators and set
 *   user mode +F ("relaxed flood protection"), which raises their per-turn
 *   command allowance from 3 to 10 and exempts them from throttling.
 * What stays is compiled in: a client's unprocessed input may not exceed
 * 2 KiB (READBUFFER_LEN) and its unsent output 32 KiB (WRITEBUFFER_MAX_LEN),
 * or ngircd disconnects it.
 */
export function ngircdConfig(port: number, pidFile: string): string {
  return `[Global]
\tName = bench.irc.local
\tInfo = chat bench
\tAdminInfo1 = chat bench
\tAdminInfo2 = loopback only
\tAdminEMail = bench@localhost
\tListen = 127.0.0.1
\tPorts = ${port}
\tPidFile = ${pidFile}
\tMotdPhrase = bench
[Limits]
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\tMaxNickLength = 31
\tMaxPenaltyTime = 0
\tPingTimeout = 600
\tPongTimeout = 600
[Options]
\tDNS = no
\tIdent = no
\tPAM = no
[Operator]
\tName = ${IRC_OPERATOR.name}
\tPassword = ${IRC_OPERATOR.password}
`;
}

export async function startNgircd(
  binary: string,
  dir: string,
): Promise<ServerProcess> {
  const port = freePort();
  const config = `${dir}/ngircd.conf`;
  await Deno.writeTextFile(config, ngircdConfig(port, `${dir}/ngircd.pid`));
  return await startProcess(
    "ngircd",
    [binary, "--nodaemon", "--passive", "--config", config],
    null,
    port,
  );
}

/** Where ngircd is, installing the Debian package if we may; null if unavailable. */
export async function findNgircd(
  install: boolean,
): Promise<{ path: string | null; note: string }> {
  const which = async () => {
    for (const path of ["/usr/sbin/ngircd", "/usr/bin/ngircd"]) {
      try {
        if ((await Deno.stat(path)).isFile) return path;
      } catch {
        // Not there.
      }
    }
    return null;
  };
  const found = await which();
  if (found !== null) return { path: found, note: "" };
  if (!install) {
    return {
      path: null,
      note: "ngircd is not installed; skipped (quick run does not install it)",
    };
  }
  if (Deno.uid() !== 0) {
    return {
      path: null,
      note:
        "ngircd is not installed and we are not root; skipped (apt-get install ngircd)",
    };
  }
  const apt = (args: string[]) =>
    new Deno.Command("apt-get", {
      args,
      stdout: "null",
      stderr: "piped",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
  let result = await apt(["install", "-y", "ngircd"]);
  if (!result.success) {
    await apt(["update"]);
    result = await apt(["install", "-y", "ngircd"]);
  }
  const path = await which();
  return path === null
    ? {
      path: null,
      note: `could not install ngircd: ${
        new TextDecoder().decode(result.stderr).trim().slice(-300)
      }`,
    }
    : { path, note: "installed the Debian package ngircd" };
}
