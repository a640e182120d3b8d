/**
 * Files the way users send them (issue 16): a sender's `chat connect` runs
 * `/file` (or `/groupfile`), the server is a real `chat serve`, and each
 * receiver is a `chat connect --accept-files all` that hashes the file and
 * saves it. The clock runs from the command to the last receiver's "Saved
 * to" line (the receiver has checked the SHA-256 and the file is on disk);
 * each copy is then hashed again here and compared with the original.
 *
 * In the same run, scp copies the same file over loopback to a private sshd
 * started here as the current user (a config of its own, generated host and
 * user keys, aes256-gcm, `UsePAM no`), the reference the issue asks for.
 *
 * RSS of every process (server, sender, receivers) is sampled from /proc
 * (VmRSS, and VmHWM reset first where allowed): growth = peak - RSS before.
 *
 * With `CHAT_BENCH_PERF=DIR` in the environment, Linux `perf record` samples
 * every thread of the server, the sender and the receivers during each
 * transfer only (not their start-up) into `DIR/<kind>-<run>.data`: the
 * kernel's and the runtime's own threads (socket and file work, the
 * WebSocket) that `--profile-files`' V8 profiles do not see.
 */

import { children, spawnRaised, Tail } from "./_ipc.ts";
import type { TargetCheck } from "./_report.ts";
import { cpuSeconds, minorFaults, PeakSampler, rss } from "./_proc.ts";
import {
  freePort,
  MAIN_TS,
  type ServerProcess,
  startChatServer,
} from "./_servers.ts";

export interface RealFilesConfig {
  bytes: number;
  runs: number;
  groupRecipients: number;
}

export const REAL_FILES_FULL: RealFilesConfig = {
  bytes: 1024 * 1024 * 1024,
  runs: 1,
  groupRecipients: 5,
};
export const REAL_FILES_QUICK: RealFilesConfig = {
  ...REAL_FILES_FULL,
  bytes: 256 * 1024 * 1024,
};

export interface MemoryGrowth {
  label: string;
  baseline: number;
  peak: number;
}

export interface RealFileRun {
  kind: "direct" | "group" | "scp";
  recipients: number;
  ok: boolean;
  reason: string;
  seconds: number;
  /** Per receiver (the file's bytes over the time until the last one saved it). */
  megabytesPerSec: number;
  memory: MemoryGrowth[];
  /**
   * CPU seconds (user + system, all threads) each process spent during the
   * transfer: on a shared machine a steadier figure than the wall clock.
   */
  cpu?: { label: string; seconds: number }[];
  /** Minor page faults each process took during the transfer. */
  faults?: { label: string; count: number }[];
}

export interface RealFilesResult {
  bytes: number;
  runs: RealFileRun[];
  notes: string[];
}

export interface RealFilesEnvironment {
  tempDir: string;
  keyDir: string;
  /** The server's public key, SPKI base64, for the clients' --pub. */
  spkiBase64: string;
  chatPermissions: string[];
  chatArgs: string[];
  /** Where to write --cpu-prof profiles of all three kinds of process. */
  profileDir?: string;
}

/** The permissions of the project's `connect` task. */
const CONNECT_PERMISSIONS = [
  "--allow-ffi",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys=statfs",
];

const STEP_TIMEOUT_MS = 30_000;

/**
 * The bench's own Deno cache, for the `chat connect` processes: each gets a
 * HOME of its own (its config folder and keys), and Deno would otherwise
 * look for its cache under that HOME, find none, and download every npm
 * package again at start (slow enough on a busy machine to miss the sign-in
 * deadline). Asked of `deno info`, as the bench may not read the environment.
 */
let denoDir: string | null = null;

async function benchDenoDir(): Promise<string | null> {
  try {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!success) return null;
    const info = JSON.parse(new TextDecoder().decode(stdout));
    return typeof info.denoDir === "string" ? info.denoDir : null;
  } catch {
    return null;
  }
}

/** A `chat connect` process driven through its stdin, read line by line. */
class ConnectProcess {
  readonly child: Deno.ChildProcess;
  readonly label: string;
  readonly downloads: string;
  readonly stderr: Tail;
  #lines: string[] = [];
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #changed: (() => void)[] = [];

  constructor(
    env: ChatEnv,
    dir: string,
    user: string,
    receiver: boolean,
  ) {
    this.label = user;
    this.downloads = `${dir}/downloads`;
    const profile = env.profileDir
      ? ["--cpu-prof", `--cpu-prof-dir=${env.profileDir}/${user}`]
      : [];
    this.child = spawnRaised(
      [
        Deno.execPath(),
        "run",
        ...CONNECT_PERMISSIONS,
        ...profile,
        MAIN_TS,
        "connect",
        `127.0.0.1:${env.chatPort}`,
        "--pub",
        `${env.tempDir}/public.pem`,
        "--user",
        user,
        ...(receiver
          ? [
            "--downloads",
            this.downloads,
            "--no-open",
            "--accept-files",
            "all",
          ]
          : []),
      ],
      {
        stdin: "piped",
        env: {
          HOME: dir,
          ...(denoDir === null ? {} : { DENO_DIR: denoDir }),
          XDG_CONFIG_HOME: `${dir}/config`,
          NO_COLOR: "1",
          PATH: "/usr/local/bin:/usr/bin:/bin",
        },
      },
    );
    children.add(this.child);
    this.child.status.then(() => children.delete(this.child));
    this.#writer = this.child.stdin.getWriter();
    new Tail(this.child.stdout, (line) => {
      this.#lines.push(line);
      if (this.#lines.length > 2000) this.#lines.splice(0, 1000);
      for (const wake of this.#changed.splice(0)) wake();
    });
    this.stderr = new Tail(this.child.stderr);
  }

  get pid(): number {
    return this.child.pid;
  }

  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** Waits for a line matching `pattern` among those not yet consumed. */
  async waitFor(
    pattern: RegExp,
    timeoutMs = STEP_TIMEOUT_MS,
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#lines.findIndex((line) => pattern.test(line));
      if (index >= 0) {
        const [line] = this.#lines.splice(0, index + 1).slice(-1);
        return line!.match(pattern)!;
      }
      const error = this.#lines.find((line) => line.startsWith("ERROR"));
      if (error !== undefined) {
        throw new Error(`${this.label}: ${error}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `${this.label}: timed out waiting for ${pattern}\n${
            this.#lines.slice(-10).join("\n")
          }\n${this.stderr.text}`,
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

  /** /quit, then SIGKILL if it has not left within a grace period. */
  async stop(): Promise<void> {
    await this.send("/quit").catch(() => {});
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, 10_000);
    await this.child.status;
    clearTimeout(timer);
  }
}

type ChatEnv = RealFilesEnvironment & { chatPort: number };

function pem(spkiBase64: string): string {
  const lines = spkiBase64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${
    lines.join("\n")
  }\n-----END PUBLIC KEY-----\n`;
}

async function sha256sum(path: string): Promise<string> {
  const { stdout, success } = await new Deno.Command("sha256sum", {
    args: [path],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!success) throw new Error(`sha256sum ${path} failed`);
  return new TextDecoder().decode(stdout).split(" ")[0]!;
}

/**
 * Runs the scenario: scp, then chat one to one, then chat to a group, `runs`
 * times. `log` gets progress lines.
 */
export async function runRealFiles(
  base: RealFilesEnvironment,
  config: RealFilesConfig,
  log: (line: string) => void,
): Promise<RealFilesResult> {
  const dir = `${base.tempDir}/realfiles`;
  await Deno.mkdir(dir, { recursive: true });
  denoDir ??= await benchDenoDir();
  const source = `${dir}/big.bin`;
  await writeRandom(source, config.bytes);
  const expected = await sha256sum(source);
  await Deno.writeTextFile(`${base.tempDir}/public.pem`, pem(base.spkiBase64));
  const result: RealFilesResult = { bytes: config.bytes, runs: [], notes: [] };

  const ssh = await startSshd(dir).catch((error: Error) => {
    result.notes.push(`scp not measured: ${error.message}`);
    return null;
  });
  try {
    for (let r = 0; r < config.runs; r++) {
      if (ssh !== null) {
        const run = await runScp(ssh, source, expected, config.bytes);
        log(
          `  scp run ${r + 1}: ${run.megabytesPerSec.toFixed(0)} MB/s${
            run.ok ? "" : ` (${run.reason})`
          }`,
        );
        result.runs.push(run);
      }
      for (const kind of ["direct", "group"] as const) {
        const run = await runChat(
          base,
          dir,
          source,
          expected,
          config,
          kind,
          `${r}`,
        );
        log(
          `  chat ${kind} run ${r + 1}: ${
            run.megabytesPerSec.toFixed(0)
          } MB/s per receiver${run.ok ? "" : ` (${run.reason})`}`,
        );
        result.runs.push(run);
      }
    }
  } finally {
    await ssh?.stop();
    await Deno.remove(source).catch(() => {});
  }
  return result;
}

async function writeRandom(path: string, bytes: number): Promise<void> {
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    const child = new Deno.Command("head", {
      args: ["-c", String(bytes), "/dev/urandom"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    await child.stdout.pipeTo(file.writable);
    if (!(await child.status).success) {
      throw new Error("cannot create the test file");
    }
  } finally {
    try {
      file.close();
    } catch {
      // pipeTo closed it.
    }
  }
}

async function runChat(
  base: RealFilesEnvironment,
  root: string,
  source: string,
  expected: string,
  config: RealFilesConfig,
  kind: "direct" | "group",
  tag: string,
): Promise<RealFileRun> {
  const dir = `${root}/chat-${kind}-${tag}`;
  await Deno.mkdir(`${dir}/server`, { recursive: true });
  await Deno.copyFile(
    `${base.keyDir}/private.pem`,
    `${dir}/server/private.pem`,
  );
  const profile = base.profileDir ? `${base.profileDir}/${kind}-${tag}` : null;
  const server: ServerProcess = await startChatServer({
    dir: `${dir}/server`,
    port: 0,
    permissions: base.chatPermissions,
    extraArgs: base.chatArgs,
    ...(profile ? { profileDir: `${profile}/server` } : {}),
  });
  const env: ChatEnv = {
    ...base,
    chatPort: server.port,
    ...(profile ? { profileDir: profile } : {}),
  };
  const count = kind === "direct" ? 1 : config.groupRecipients;
  const clients: ConnectProcess[] = [];
  let perf: Deno.ChildProcess | null = null;
  const run: RealFileRun = {
    kind,
    recipients: count,
    ok: false,
    reason: "",
    seconds: NaN,
    megabytesPerSec: NaN,
    memory: [],
  };
  try {
    const sender = new ConnectProcess(env, `${dir}/sender`, "sender", false);
    clients.push(sender);
    const receivers: ConnectProcess[] = [];
    for (let i = 0; i < count; i++) {
      const receiver = new ConnectProcess(
        env,
        `${dir}/receiver${i + 1}`,
        `receiver${i + 1}`,
        true,
      );
      receivers.push(receiver);
      clients.push(receiver);
    }
    for (const client of clients) {
      await client.waitFor(/SUCCESS: Username registered\./);
    }
    if (kind === "group") {
      await sender.send("/create bulk");
      await sender.waitFor(/SUCCESS: Group 'bulk' created and joined\./);
      for (const receiver of receivers) {
        await receiver.send("/join bulk");
        await receiver.waitFor(/SUCCESS: Joined group 'bulk'\./);
      }
    }
    const processes = [
      { label: "server", pid: server.pid },
      { label: "sender", pid: sender.pid },
      ...receivers.map((r) => ({ label: r.label, pid: r.pid })),
    ];
    const baselines = await Promise.all(processes.map((p) => rss(p.pid)));
    const cpuBefore = await Promise.all(
      processes.map((p) => cpuSeconds(p.pid)),
    );
    const faultsBefore = await Promise.all(
      processes.map((p) => minorFaults(p.pid)),
    );
    const sampler = await PeakSampler.start(processes.map((p) => p.pid), 100);
    const perfDir = Deno.env.get("CHAT_BENCH_PERF");
    perf = perfDir
      ? new Deno.Command("perf", {
        args: [
          "record",
          "-F",
          "999",
          "-o",
          `${perfDir}/${kind}-${tag}.data`,
          "--per-thread",
          "-p",
          processes.map((p) => p.pid).join(","),
        ],
        stdout: "null",
        stderr: "null",
      }).spawn()
      : null;
    const started = performance.now();
    await sender.send(
      kind === "direct"
        ? `/file receiver1 ${source}`
        : `/groupfile bulk ${source}`,
    );
    const timeout = Math.max(60_000, config.bytes / 2e6 * count);
    await Promise.all(
      receivers.map((r) => r.waitFor(/^Saved to (.*)$/, timeout)),
    );
    run.seconds = (performance.now() - started) / 1000;
    await stopPerf(perf);
    const cpuAfter = await Promise.all(processes.map((p) => cpuSeconds(p.pid)));
    const faultsAfter = await Promise.all(
      processes.map((p) => minorFaults(p.pid)),
    );
    run.faults = processes.map((p, i) => ({
      label: p.label,
      count: (faultsAfter[i] ?? NaN) - (faultsBefore[i] ?? NaN),
    }));
    run.cpu = processes.map((p, i) => ({
      label: p.label,
      seconds: (cpuAfter[i] ?? NaN) - (cpuBefore[i] ?? NaN),
    }));
    const peaks = await sampler.stop();
    run.memory = processes.map((p, i) => ({
      label: p.label,
      baseline: baselines[i] ?? NaN,
      peak: peaks.get(p.pid) ?? NaN,
    }));
    run.megabytesPerSec = config.bytes / run.seconds / 1e6;
    const problems: string[] = [];
    for (const receiver of receivers) {
      const copy = `${receiver.downloads}/big.bin`;
      const hash = await sha256sum(copy).catch(() => "missing");
      if (hash !== expected) problems.push(`${receiver.label}: ${hash}`);
      await Deno.remove(copy).catch(() => {});
    }
    run.ok = problems.length === 0;
    run.reason = problems.length === 0
      ? ""
      : `copies differ from the original: ${problems.join(", ")}`;
  } catch (error) {
    run.reason = error instanceof Error ? error.message : String(error);
  } finally {
    await stopPerf(perf);
    await Promise.all(clients.map((c) => c.stop()));
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return run;
}

/** SIGINT makes perf write its file and exit; once is enough. */
async function stopPerf(perf: Deno.ChildProcess | null): Promise<void> {
  if (perf === null) return;
  try {
    perf.kill("SIGINT");
  } catch {
    // Already gone.
  }
  await perf.status;
}

// --- scp to a private sshd ---------------------------------------------------

interface Sshd {
  port: number;
  user: string;
  dir: string;
  stop(): Promise<void>;
}

const SSHD_PATHS = ["/usr/sbin/sshd", "/usr/bin/sshd"];

async function findSshd(): Promise<string | null> {
  for (const path of SSHD_PATHS) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // Not there.
    }
  }
  return null;
}

/** sshd, installing Debian's openssh-server when missing and we are root. */
async function installedSshd(): Promise<string> {
  const found = await findSshd();
  if (found !== null) return found;
  if (Deno.uid() !== 0) {
    throw new Error(
      "sshd is not installed and we are not root (apt-get install openssh-server)",
    );
  }
  const apt = (args: string[]) =>
    new Deno.Command("apt-get", {
      args,
      stdout: "null",
      stderr: "piped",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
  let result = await apt([
    "install",
    "-y",
    "--no-install-recommends",
    "openssh-server",
  ]);
  if (!result.success) {
    await apt(["update"]);
    result = await apt([
      "install",
      "-y",
      "--no-install-recommends",
      "openssh-server",
    ]);
  }
  const path = await findSshd();
  if (path === null) {
    throw new Error(
      `could not install openssh-server: ${
        new TextDecoder().decode(result.stderr).trim().slice(-300)
      }`,
    );
  }
  return path;
}

async function run(command: string, args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `${command} failed: ${new TextDecoder().decode(stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(stdout).trim();
}

/**
 * sshd as the current user on 127.0.0.1 and a free port, with its own
 * config: no PAM (which needs root), keys only, and only the cipher the
 * issue names. As root, sshd wants its privilege-separation folder.
 */
async function startSshd(root: string): Promise<Sshd> {
  const sshd = await installedSshd();
  const dir = `${root}/ssh`;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await run("ssh-keygen", [
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-f",
    `${dir}/host`,
  ]);
  await run("ssh-keygen", [
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-f",
    `${dir}/user`,
  ]);
  await Deno.copyFile(`${dir}/user.pub`, `${dir}/authorized_keys`);
  await Deno.chmod(`${dir}/authorized_keys`, 0o600);
  if (Deno.uid() === 0) {
    await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  }
  const user = await run("id", ["-un"]);
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/sshd_config`,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${dir}/host`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      // Only matters when the bench runs as root: keys only.
      "PermitRootLogin prohibit-password",
      // The temp folder's owners and modes are not sshd's business here.
      "StrictModes no",
      "Ciphers aes256-gcm@openssh.com",
      "Subsystem sftp internal-sftp",
      "",
    ].join("\n"),
  );
  const child = spawnRaised([sshd, "-D", "-e", "-f", `${dir}/sshd_config`]);
  children.add(child);
  child.status.then(() => children.delete(child));
  let listening: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const stderr = new Tail(child.stderr, (line) => {
    if (line.includes("Server listening")) listening();
  });
  new Tail(child.stdout);
  const exited = child.status.then((s) => {
    throw new Error(`sshd exited (${s.code}): ${stderr.text.slice(-300)}`);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("sshd did not start")), 10_000);
  });
  try {
    await Promise.race([ready, exited, timeout]);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
  exited.catch(() => {});
  return {
    port,
    user,
    dir,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone.
      }
      await child.status;
    },
  };
}

async function runScp(
  ssh: Sshd,
  source: string,
  expected: string,
  bytes: number,
): Promise<RealFileRun> {
  const dest = `${ssh.dir}/copy.bin`;
  const started = performance.now();
  const { success, stderr } = await new Deno.Command("scp", {
    args: [
      "-q",
      "-F",
      "/dev/null",
      "-o",
      "Ciphers=aes256-gcm@openssh.com",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      `${ssh.dir}/user`,
      "-P",
      String(ssh.port),
      source,
      `${ssh.user}@127.0.0.1:${dest}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const hash = success ? await sha256sum(dest).catch(() => "missing") : "";
  await Deno.remove(dest).catch(() => {});
  const ok = success && hash === expected;
  return {
    kind: "scp",
    recipients: 1,
    ok,
    reason: ok
      ? ""
      : success
      ? "the copy differs from the original"
      : new TextDecoder().decode(stderr).trim().slice(-300),
    seconds,
    megabytesPerSec: bytes / seconds / 1e6,
    memory: [],
  };
}

// --- Report -----------------------------------------------------------------

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median MB/s of the runs of one kind that succeeded. */
export function speedOf(
  result: RealFilesResult,
  kind: RealFileRun["kind"],
): number {
  return median(
    result.runs.filter((r) => r.kind === kind && r.ok).map((r) =>
      r.megabytesPerSec
    ),
  );
}

/** The largest RSS growth of any process in the chat runs, in bytes. */
export function worstGrowth(result: RealFilesResult): MemoryGrowth | null {
  let worst: MemoryGrowth | null = null;
  for (const run of result.runs) {
    for (const m of run.memory) {
      if (worst === null || m.peak - m.baseline > worst.peak - worst.baseline) {
        worst = m;
      }
    }
  }
  return worst;
}

/** The section of the bench's report for this scenario. */
export function formatRealFiles(result: RealFilesResult): string {
  const mib = (n: number) => (n / 1048576).toFixed(0);
  const out: string[] = [];
  out.push(
    `Files as users send them: ${
      mib(result.bytes)
    } MiB, chat connect -> chat serve -> chat connect --accept-files all, vs scp (aes256-gcm, loopback)`,
  );
  const scp = speedOf(result, "scp");
  for (const run of result.runs) {
    const what = run.kind === "scp"
      ? "scp"
      : run.kind === "direct"
      ? "chat one to one"
      : `chat to a group of ${run.recipients}`;
    const ratio = run.kind === "scp" || !Number.isFinite(scp)
      ? ""
      : `  ${(run.megabytesPerSec / scp).toFixed(2)}x scp`;
    out.push(
      `  ${what.padEnd(24)} ${run.megabytesPerSec.toFixed(0).padStart(5)} MB/s${
        run.kind === "group" ? " per receiver" : ""
      }  ${run.seconds.toFixed(1)} s${ratio}${
        run.ok ? "" : `  FAILED: ${run.reason}`
      }`,
    );
    if (run.memory.length > 0) {
      out.push(
        `    RSS growth MiB: ${
          run.memory.map((m) => `${m.label} ${mib(m.peak - m.baseline)}`)
            .join(", ")
        }`,
      );
    }
    if (run.cpu !== undefined && run.cpu.length > 0) {
      out.push(
        `    CPU s: ${
          run.cpu.map((c) => `${c.label} ${c.seconds.toFixed(2)}`).join(", ")
        }`,
      );
    }
    if (run.faults !== undefined && run.faults.length > 0) {
      out.push(
        `    minor page faults: ${
          run.faults.map((f) => `${f.label} ${f.count}`).join(", ")
        }`,
      );
    }
  }
  for (const note of result.notes) out.push(`  note: ${note}`);
  return out.join("\n");
}

/** The issue's targets, judged on this run's ratios. */
export function realFilesTargets(result: RealFilesResult): TargetCheck[] {
  const scp = speedOf(result, "scp");
  const direct = speedOf(result, "direct");
  const group = speedOf(result, "group");
  const ratio = (ours: number, share: number) =>
    Number.isFinite(ours) && Number.isFinite(scp)
      ? `${(ours / (scp * share)).toFixed(2)}x the target`
      : "n/a";
  const checks: TargetCheck[] = [
    {
      target: "Files (real clients) one to one >= scp's MB/s",
      ours: `${direct.toFixed(0)} MB/s`,
      reference: `scp ${scp.toFixed(0)} MB/s`,
      met: Number.isFinite(direct) && Number.isFinite(scp)
        ? direct >= scp
        : null,
      by: ratio(direct, 1),
    },
    {
      target:
        "Files (real clients) to a group of 5 >= half of scp per receiver",
      ours: `${group.toFixed(0)} MB/s`,
      reference: `scp / 2 = ${(scp / 2).toFixed(0)} MB/s`,
      met: Number.isFinite(group) && Number.isFinite(scp)
        ? group >= scp / 2
        : null,
      by: ratio(group, 0.5),
    },
  ];
  const worst = worstGrowth(result);
  if (worst !== null) {
    const growth = (worst.peak - worst.baseline) / 1048576;
    checks.push({
      target: `RSS growth of server and each client < 32 MiB during ${
        (result.bytes / 1048576).toFixed(0)
      } MiB`,
      ours: `${growth.toFixed(0)} MiB (${worst.label}, the largest)`,
      reference: "32 MiB",
      met: growth < 32,
      by: `${(growth / 32).toFixed(2)}x the limit`,
    });
  }
  return checks;
}
