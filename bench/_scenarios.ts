/**
 * The orchestrator's side of the scenarios: which server to start, which
 * load processes own which clients, when each step starts on the shared
 * clock, and what is measured from outside (/proc). The clients' side is in
 * bench/_driver.ts.
 */

import {
  type FanoutSpans,
  fanoutSpans,
  type MessageSpan,
} from "./_fanout_spans.ts";
import { LoadProcess, now, sleep, sleepUntil } from "./_ipc.ts";
import { CpuMeter, cpuSeconds, PeakSampler, rss } from "./_proc.ts";
import {
  IRC_OPERATOR,
  type ServerProcess,
  startChatServer,
  startNgircd,
  startPlainRelay,
} from "./_servers.ts";
import { type Percentiles, percentiles } from "./_stats.ts";
import type { Transport } from "./_driver.ts";

export type TargetKind = "chat" | "irc" | "plain";
export type LatencyMode = "public" | "group" | "private";

const LOAD_CLIENT_TS = new URL("./load_client.ts", import.meta.url).pathname;
const IRC_LOAD_CLIENT_TS =
  new URL("./irc_load_client.ts", import.meta.url).pathname;
const PUBLIC_CHANNEL = "#bench";

export interface BenchConfig {
  quick: boolean;
  runs: number;
  loadProcesses: number;
  roomClients: number;
  groups: number;
  groupSize: number;
  /**
   * The fan-out matrix (issue 21): every combination of senders, messages
   * each keeps unanswered, and body bytes is one cell, measured `runs` times
   * on each server with the same load client.
   */
  fanoutSenders: number[];
  fanoutWindows: number[];
  fanoutBodies: number[];
  /** Each cell's measured window. */
  fanoutMs: number;
  warmupMs: number;
  latencyRate: number;
  latencyMs: number;
  /**
   * The crowd (bench/_crowd.ts): this many people in the public room, who
   * between them send `crowdRate` messages a second.
   */
  crowdClients: number;
  crowdRate: number;
  fileBytes: number;
  fileGroupRecipients: number;
  idleCounts: number[];
  idleProcesses: number;
  /**
   * After the last idle step, how long to watch the server's RSS for the
   * collection of the connection storm's garbage (0: not at all).
   */
  idleSettleMs: number;
  handshakeClients: number;
  connectConcurrency: number;
  rsaBits: number;
  /** Lead time before a timed step starts, and quiet time that ends one. */
  settleMs: number;
  /**
   * After the fan-out matrix, how long to watch the server's RSS come back
   * (issue 21: within 2x of its RSS before the fan-out within 30 s).
   */
  afterFanoutMs: number;
}

/** How to start each server and its load processes. */
export interface Environment {
  config: BenchConfig;
  /** Folder with the server's private.pem, copied into a fresh folder per server. */
  keyDir: string;
  tempDir: string;
  spkiBase64: string;
  chatPermissions: string[];
  chatArgs: string[];
  ngircd: string | null;
  lifetimeMs: number;
  /** How chat and plain-relay load clients connect (see bench/_driver.ts). */
  transport: Transport;
}

export interface Target {
  kind: TargetKind;
  server: ServerProcess;
  /** Folder of a chat server (key and data), to restart it in place. */
  dir: string;
}

let serverCount = 0;

/** A fresh folder holding a copy of the key: each chat server starts with no data. */
async function freshChatDir(env: Environment): Promise<string> {
  const dir = `${env.tempDir}/server-${++serverCount}`;
  await Deno.mkdir(dir);
  await Deno.copyFile(`${env.keyDir}/private.pem`, `${dir}/private.pem`);
  return dir;
}

export async function startTarget(
  env: Environment,
  kind: TargetKind,
  options: { profileDir?: string } = {},
): Promise<Target> {
  switch (kind) {
    case "chat": {
      const dir = await freshChatDir(env);
      const server = await startChatServer({
        dir,
        port: 0,
        permissions: env.chatPermissions,
        extraArgs: env.chatArgs,
        ...(options.profileDir ? { profileDir: options.profileDir } : {}),
      });
      return { kind, server, dir };
    }
    case "plain":
      return { kind, server: await startPlainRelay(), dir: "" };
    case "irc": {
      if (env.ngircd === null) throw new Error("ngircd is not available");
      const dir = `${env.tempDir}/ngircd-${++serverCount}`;
      await Deno.mkdir(dir);
      return { kind, server: await startNgircd(env.ngircd, dir), dir };
    }
  }
}

/** Restarts a chat server on the same port with the same key and data. */
export function restartChat(
  env: Environment,
  target: Target,
): Promise<ServerProcess> {
  return startChatServer({
    dir: target.dir,
    port: target.server.port,
    permissions: env.chatPermissions,
    extraArgs: env.chatArgs,
  });
}

function loadArgv(
  env: Environment,
  target: Target,
  transport: Transport,
): string[] {
  const lifetime = [
    "--lifetime-ms",
    String(env.lifetimeMs),
    ...(target.kind === "irc" ? [] : ["--transport", transport]),
  ];
  // --allow-ffi: the load client seals with OpenSSL, as chat connect does.
  // --allow-env: CHAT_BENCH_CIDS (bench/_chat_target.ts) only.
  const deno = [
    Deno.execPath(),
    "run",
    "--allow-ffi",
    "--allow-net=127.0.0.1",
    "--allow-env=CHAT_BENCH_CIDS",
  ];
  const url = `ws://127.0.0.1:${target.server.port}`;
  switch (target.kind) {
    case "chat":
      return [
        ...deno,
        LOAD_CLIENT_TS,
        "--target",
        "chat",
        "--url",
        url,
        "--spki",
        env.spkiBase64,
        ...lifetime,
      ];
    case "plain":
      return [
        ...deno,
        LOAD_CLIENT_TS,
        "--target",
        "plain",
        "--url",
        url,
        ...lifetime,
      ];
    case "irc":
      return [
        ...deno,
        IRC_LOAD_CLIENT_TS,
        "--host",
        "127.0.0.1",
        "--port",
        String(target.server.port),
        "--channel",
        PUBLIC_CHANNEL,
        "--oper",
        `${IRC_OPERATOR.name}:${IRC_OPERATOR.password}`,
        ...lifetime,
      ];
  }
}

/** Load processes for one target; client `i` of a list belongs to process `i % count`. */
export class Fleet {
  readonly procs: LoadProcess[];

  constructor(
    env: Environment,
    target: Target,
    count: number,
    transport: Transport = env.transport,
  ) {
    const argv = loadArgv(env, target, transport);
    this.procs = Array.from(
      { length: count },
      (_, k) => new LoadProcess(`${target.kind} load ${k}`, argv),
    );
  }

  get pids(): number[] {
    return this.procs.map((p) => p.pid);
  }

  owner(index: number): LoadProcess {
    return this.procs[index % this.procs.length]!;
  }

  /** Splits `names` by owning process. */
  split(names: readonly string[]): string[][] {
    const parts: string[][] = this.procs.map(() => []);
    names.forEach((name, i) => parts[i % this.procs.length]!.push(name));
    return parts;
  }

  all<T>(
    cmd: string,
    args: (k: number) => Record<string, unknown>,
    timeoutMs: number,
  ): Promise<T[]> {
    return Promise.all(
      this.procs.map((p, k) => p.call<T>(cmd, args(k), timeoutMs)),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
  }
}

interface ConnectResult {
  connected: number;
  failed: number;
  firstError: string;
  startedAt: number;
  finishedAt: number;
}

/** Connects `names` (spread over the fleet); throws if any fails. */
export async function connectAll(
  fleet: Fleet,
  names: readonly string[],
  register: boolean,
  concurrency: number,
): Promise<{ seconds: number; connected: number }> {
  const parts = fleet.split(names);
  const results = await fleet.all<ConnectResult>(
    "connect",
    (k) => ({ names: parts[k], register, concurrency }),
    180_000,
  );
  const failed = results.reduce((n, r) => n + r.failed, 0);
  if (failed > 0) {
    const why = results.find((r) => r.firstError)?.firstError;
    throw new Error(
      `${failed} of ${names.length} clients failed to connect: ${why}`,
    );
  }
  const start = Math.min(...results.map((r) => r.startedAt));
  const end = Math.max(...results.map((r) => r.finishedAt));
  return { seconds: (end - start) / 1000, connected: names.length };
}

/** Measures each load process's clock against ours (they should agree). */
export async function clockOffsets(fleet: Fleet): Promise<number[]> {
  const offsets: number[] = [];
  for (const proc of fleet.procs) {
    let best = { rtt: Infinity, offset: 0 };
    for (let i = 0; i < 10; i++) {
      const before = now();
      const theirs = await proc.call<number>("clock");
      const after = now();
      if (after - before < best.rtt) {
        best = { rtt: after - before, offset: theirs - (before + after) / 2 };
      }
    }
    offsets.push(Math.round(best.offset * 1000) / 1000);
  }
  return offsets;
}

// --- The room: fan-out, latency and files ------------------------------------

/** One combination of the fan-out matrix. */
export interface FanoutCell {
  senders: number;
  window: number;
  bodyBytes: number;
}

export function fanoutCells(config: BenchConfig): FanoutCell[] {
  return config.fanoutSenders.flatMap((senders) =>
    config.fanoutWindows.flatMap((window) =>
      config.fanoutBodies.map((bodyBytes) => ({ senders, window, bodyBytes }))
    )
  );
}

/**
 * The longest body an IRC line carries: a line is at most 512 bytes with
 * its CRLF (RFC 2812 2.3), and ngircd answers a longer one with "Request too
 * long" and drops it, which would leave the sender's window stuck.
 */
export const IRC_MAX_BODY_BYTES = 400;

/** Messages in flight the load clients are given per millisecond of warm-up. */
const WARMUP_MESSAGES_PER_MS = 50;
/**
 * And bytes of them (a body and about 100 bytes of header and sealing): with
 * 1000-byte bodies, 99 x 2048 is 220 MB to seal and send, and the cell's
 * window began while the load processes were still at it (the server had
 * received nothing yet, and 0 deliveries were counted).
 */
const WARMUP_BYTES_PER_MS = 10_000;
/** A slow rate of deliveries to the load clients, for a cell's drain deadline. */
const DRAIN_DELIVERIES_PER_MS = 200;

export function cellLabel(cell: FanoutCell): string {
  return `${cell.senders} x ${cell.window}, ${cell.bodyBytes} B`;
}

/**
 * A public message of exactly `bytes` UTF-8 bytes (ASCII), the 16-byte one
 * the bench always used first: what people type is nearer 100.
 */
export function fanoutBody(bytes: number): string {
  const base = "fan-out message.";
  return bytes <= base.length
    ? base.slice(0, bytes)
    : base + " lorem ipsum dolor sit amet".repeat(Math.ceil(bytes / 27))
      .slice(0, bytes - base.length);
}

export interface FanoutRun extends FanoutCell {
  deliveriesPerSec: number;
  serverCpuUsPerDelivery: number;
  serverCores: number;
  loadCores: number[];
  /** Cores busy with other work on the machine during the window (orchestrator included). */
  otherCores: number;
  sentPerSec: number;
  errors: number;
  lastError: string;
  drained: boolean;
  /** The server's RSS when the cell started, and its peak meanwhile. */
  serverStartRss: number;
  serverPeakRss: number;
}

export interface LatencyRun extends Percentiles {
  mode: LatencyMode;
  sent: number;
  expected: number;
  lost: number;
  errors: number;
  serverCores: number;
  /** Cores busy in each load process meanwhile. */
  loadCores: number[];
  /** Cores busy with other work on the machine meanwhile. */
  otherCores: number;
  /** Each message's first and last delivery (see bench/_fanout_spans.ts). */
  spans: FanoutSpans;
}

export interface FileRun {
  recipients: number;
  ok: boolean;
  reason: string;
  seconds: number;
  megabytesPerSec: number;
  serverBaselineRss: number;
  serverPeakRss: number;
  clientPeakRss: number;
  serverCores: number;
  otherCores: number;
}

/** The server's RSS around the fan-out matrix. */
export interface FanoutMemory {
  /** Once the room is connected, before the first cell. */
  beforeRss: number;
  /** `afterFanoutMs` after the last cell's load ended, and the lowest meanwhile. */
  afterRss: number;
  lowestAfterRss: number;
  afterSeconds: number;
  /**
   * How long the server was still busy after the last cell's reply (a
   * flooded cell can leave more in flight than it drains in its time):
   * the 30 s are counted from when it went quiet, or from this deadline.
   */
  busySeconds: number;
  /** Whether it went quiet before the deadline. */
  quiet: boolean;
}

/**
 * Server CPU below this share of a core for QUIET_SECONDS in a row: the load
 * is over. One quiet second was not enough: a server waiting for slow
 * recipients on a busy machine is idle for a second at a time.
 */
const QUIET_CORES = 0.05;
const QUIET_SECONDS = 3;
const QUIET_DEADLINE_MS = 120_000;

/** Waits until `pid` is quiet, or `timeoutMs`; whether it was. */
async function untilQuiet(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = now() + timeoutMs;
  let before = await cpuSeconds(pid);
  let quietSeconds = 0;
  while (now() < deadline) {
    await sleep(1000);
    const after = await cpuSeconds(pid);
    const quiet = before !== null && after !== null &&
      after - before < QUIET_CORES;
    quietSeconds = quiet ? quietSeconds + 1 : 0;
    if (quietSeconds >= QUIET_SECONDS) return true;
    before = after;
  }
  return false;
}

export interface RoomResult {
  kind: TargetKind;
  connectSeconds: number;
  clockOffsetsMs: number[];
  fanout: FanoutRun[];
  fanoutMemory: FanoutMemory | null;
  latency: Record<LatencyMode, LatencyRun[]>;
  file: { direct: FileRun[]; group: FileRun[] } | null;
  notes: string[];
}

export function roomNames(config: BenchConfig): string[] {
  return Array.from({ length: config.roomClients }, (_, i) => `u${i}`);
}

function groupOf(config: BenchConfig, index: number): string | null {
  const g = Math.floor(index / config.groupSize);
  return g < config.groups ? `g${g}` : null;
}

/** Creates and joins groups: first members create, then the rest join. */
async function joinGroups(
  fleet: Fleet,
  memberships: [string, string, number][],
): Promise<void> {
  const creators = new Set<string>();
  const first: [string, string, number][] = [];
  const rest: [string, string, number][] = [];
  for (const m of memberships) {
    if (creators.has(m[1])) rest.push(m);
    else {
      creators.add(m[1]);
      first.push(m);
    }
  }
  for (const batch of [first, rest]) {
    await Promise.all(fleet.procs.map((proc, k) =>
      proc.call("join", {
        pairs: batch
          .filter(([, , index]) => index % fleet.procs.length === k)
          .map(([name, group]) => [name, group]),
      }, 60_000)
    ));
  }
}

/** Connects the room's clients to `target` and runs scenarios 1-3 on it. */
export async function runRoom(
  env: Environment,
  target: Target,
  log: (line: string) => void,
  skip: ReadonlySet<string> = new Set(),
): Promise<RoomResult> {
  const { config } = env;
  const fleet = new Fleet(env, target, config.loadProcesses);
  const notes: string[] = [];
  try {
    const names = roomNames(config);
    const connected = await connectAll(
      fleet,
      names,
      true,
      config.connectConcurrency,
    );
    log(
      `  ${names.length} clients connected in ${
        connected.seconds.toFixed(2)
      } s`,
    );
    const memberships: [string, string, number][] = [];
    names.forEach((name, i) => {
      const group = groupOf(config, i);
      if (group !== null) memberships.push([name, group, i]);
    });
    await joinGroups(fleet, memberships);
    const offsets = await clockOffsets(fleet);

    // Latency first: a flooded fan-out cell (99 x 2048) can leave more
    // in flight than the server delivers before the next step, which then
    // measured nothing.
    const latency = { public: [], group: [], private: [] } as Record<
      LatencyMode,
      LatencyRun[]
    >;
    if (!skip.has("latency")) {
      // Discarded: the first run after connecting measures the JIT
      // compiling the paths and the collector clearing the connection
      // storm's garbage, not the server under steady load. Every target
      // gets it, ngircd included.
      const warmup = await runLatency(env, target, fleet, names, "public");
      log(
        `  latency warm-up (discarded): p50 ${warmup.p50.toFixed(2)} ms, ` +
          `p99 ${
            warmup.p99.toFixed(2)
          } ms (server ${warmup.serverCores} cores)`,
      );
    }
    for (const mode of ["public", "group", "private"] as const) {
      for (let r = 0; r < (skip.has("latency") ? 0 : config.runs); r++) {
        const run = await runLatency(env, target, fleet, names, mode);
        log(
          `  latency ${mode} run ${r + 1}: p50 ${run.p50.toFixed(2)} ms, ` +
            `p99 ${run.p99.toFixed(2)} ms, max ${run.max.toFixed(2)} ms ` +
            `(${run.count} deliveries, ${run.lost} missing; server ` +
            `${run.serverCores} cores, load ${run.loadCores.join("+")}, ` +
            `other work ${run.otherCores} cores; per message: first ` +
            `delivery p50 ${run.spans.firstP50.toFixed(2)} ms, last p50 ` +
            `${run.spans.lastP50.toFixed(2)} / p99 ` +
            `${run.spans.lastP99.toFixed(2)} ms)`,
        );
        latency[mode].push(run);
      }
    }

    const fanout: FanoutRun[] = [];
    const beforeRss = await rss(target.server.pid) ?? NaN;
    // Cells inside runs: a drift of the machine spreads over every cell.
    for (let r = 0; r < (skip.has("fanout") ? 0 : config.runs); r++) {
      for (const cell of fanoutCells(config)) {
        if (cell.senders > names.length) continue;
        if (target.kind === "irc" && cell.bodyBytes > IRC_MAX_BODY_BYTES) {
          if (r === 0) {
            notes.push(
              `fan-out ${
                cellLabel(cell)
              }: not measured, an IRC line carries at most ${IRC_MAX_BODY_BYTES} bytes of text (512 with the command)`,
            );
          }
          continue;
        }
        // The plain relay has no backpressure: with 2048 in flight per sender
        // its queues grow without bound (7 GiB seen) and never drain, which
        // spoils every cell after. It is the latency and file peer, not the
        // fan-out one (ngircd is).
        if (target.kind === "plain" && cell.window > 4) {
          if (r === 0) {
            notes.push(
              `fan-out ${
                cellLabel(cell)
              }: not measured for the plain relay (no backpressure: its queues grow without bound)`,
            );
          }
          continue;
        }
        const run = await runFanout(env, target, fleet, names, cell);
        log(
          `  fan-out ${cellLabel(cell)} run ${r + 1}: ${
            fmt(run.deliveriesPerSec)
          } deliveries/s, ` +
            `${run.serverCpuUsPerDelivery.toFixed(2)} µs server CPU each ` +
            `(server ${run.serverCores.toFixed(2)} cores, peak RSS ${
              mib(run.serverPeakRss)
            } MiB, load ${
              run.loadCores.join("+")
            }, other work ${run.otherCores} cores)` +
            (run.errors ? `, ${run.errors} errors (${run.lastError})` : "") +
            (run.drained ? "" : ", not drained"),
        );
        fanout.push(run);
      }
    }
    let fanoutMemory: FanoutMemory | null = null;
    if (fanout.length > 0 && config.afterFanoutMs > 0) {
      const busySince = now();
      const quiet = await untilQuiet(target.server.pid, QUIET_DEADLINE_MS);
      const busySeconds = (now() - busySince) / 1000;
      const started = now();
      let lowest = Infinity;
      let last = NaN;
      while (now() - started < config.afterFanoutMs) {
        await sleep(1000);
        last = await rss(target.server.pid) ?? NaN;
        lowest = Math.min(lowest, last);
      }
      fanoutMemory = {
        beforeRss,
        afterRss: last,
        lowestAfterRss: lowest,
        afterSeconds: (now() - started) / 1000,
        busySeconds,
        quiet,
      };
      log(
        `  server RSS ${mib(beforeRss)} MiB before the fan-out, ${
          mib(last)
        } MiB ${fanoutMemory.afterSeconds.toFixed(0)} s after it (lowest ${
          mib(lowest)
        } MiB; the server was busy ${
          busySeconds.toFixed(0)
        } s after the last cell${quiet ? "" : ", and still was"})`,
      );
    }

    let file: RoomResult["file"] = null;
    if (target.kind !== "irc" && !skip.has("files")) {
      const members = names.slice(0, config.fileGroupRecipients + 1);
      await joinGroups(
        fleet,
        members.map((name, i) => [name, "files", i]),
      );
      await Promise.all(fleet.procs.map((proc, k) =>
        proc.call("file_arm", {
          names: members.filter((_, i) => i % fleet.procs.length === k),
        })
      ));
      file = { direct: [], group: [] };
      for (
        const [kindOfRun, fileTarget] of [
          ["direct", { to: members[1]! }],
          ["group", { group: "files" }],
        ] as const
      ) {
        for (let r = 0; r < config.runs; r++) {
          const run = await runFile(
            env,
            target,
            fleet,
            members[0]!,
            fileTarget,
          );
          log(
            `  file ${kindOfRun} run ${r + 1}: ${
              run.megabytesPerSec.toFixed(0)
            } MB/s ` +
              `to ${run.recipients}, server peak RSS ${
                mib(run.serverPeakRss)
              } MiB (server ${run.serverCores} cores, other work ${run.otherCores} cores)` +
              (run.ok ? "" : ` FAILED: ${run.reason}`),
          );
          file[kindOfRun].push(run);
        }
      }
    }
    await fleet.all("close", () => ({ timeoutMs: 5000, abort: true }), 15_000)
      .catch((error) => notes.push(`closing: ${error.message}`));
    return {
      kind: target.kind,
      connectSeconds: connected.seconds,
      clockOffsetsMs: offsets,
      fanout,
      fanoutMemory,
      latency,
      file,
      notes,
    };
  } finally {
    await fleet.stop();
  }
}

interface FanoutReply {
  delivered: number;
  deliveredTotal: number;
  sent: number;
  sentInWindow: number;
  drained: boolean;
  errors: number;
  lastError: string;
}

export async function runFanout(
  env: Environment,
  target: Target,
  fleet: Fleet,
  names: readonly string[],
  cell: FanoutCell,
): Promise<FanoutRun> {
  const { config } = env;
  const senders = names.slice(0, cell.senders);
  const sendersOf = fleet.split(senders);
  // Everyone's first window leaves the load clients at once: 99 x 2048
  // messages took them seconds to seal and send on a busy 2-core machine,
  // longer than a 3 s cell, which then measured only the ramp.
  const inFlight = cell.senders * cell.window;
  const warmupMs = config.warmupMs + Math.round(Math.max(
    inFlight / WARMUP_MESSAGES_PER_MS,
    (inFlight * (cell.bodyBytes + 100)) / WARMUP_BYTES_PER_MS,
  ));
  const startAt = now() + warmupMs + config.settleMs;
  // What the cell leaves in flight must reach everyone before the next cell
  // starts: 99 x 2048 x 1000 B is 20 M deliveries, about 45 s here. With a
  // fixed 30 s the next cell began on that backlog, and its load processes,
  // still decrypting it, missed the orchestrator's deadline (the bench
  // stopped at "'fanout' got no reply").
  const drainMs = Math.max(
    30_000,
    Math.ceil(inFlight * (names.length - 1) / DRAIN_DELIVERIES_PER_MS),
  );
  const meter = new CpuMeter([target.server.pid, ...fleet.pids]);
  const serverStartRss = await rss(target.server.pid) ?? NaN;
  const sampler = await PeakSampler.start([target.server.pid]);
  const replies = fleet.all<FanoutReply>("fanout", (k) => ({
    senders: sendersOf[k],
    window: cell.window,
    body: fanoutBody(cell.bodyBytes),
    startAt,
    warmupMs,
    durationMs: config.fanoutMs,
    drainMs,
    quietMs: config.settleMs,
  }), config.fanoutMs + warmupMs + drainMs + 30_000);
  await sleepUntil(startAt);
  await meter.start();
  await sleepUntil(startAt + config.fanoutMs);
  const { processes: usage, otherCores } = await meter.stop();
  let results: FanoutReply[];
  let peaks: Map<number, number>;
  try {
    // Until every sender drained: the peak is often in the drain.
    results = await replies;
  } finally {
    peaks = await sampler.stop();
  }
  const drained = results.every((r) => r.drained);
  // Not drained in time: at least let the server finish before the next
  // cell, so that it measures its own load.
  if (!drained) await untilQuiet(target.server.pid, QUIET_DEADLINE_MS);
  const delivered = results.reduce((n, r) => n + r.delivered, 0);
  const seconds = config.fanoutMs / 1000;
  return {
    ...cell,
    serverStartRss,
    serverPeakRss: peaks.get(target.server.pid) ?? NaN,
    deliveriesPerSec: delivered / seconds,
    serverCpuUsPerDelivery: (usage[0]!.seconds / delivered) * 1e6,
    serverCores: usage[0]!.cores,
    loadCores: usage.slice(1).map((u) => Math.round(u.cores * 100) / 100),
    otherCores: Math.round(otherCores * 100) / 100,
    sentPerSec: results.reduce((n, r) => n + r.sentInWindow, 0) / seconds,
    errors: results.reduce((n, r) => n + r.errors, 0),
    lastError: results.find((r) => r.lastError)?.lastError ?? "",
    drained,
  };
}

interface LatencyReply {
  sent: number;
  samples: number[];
  spans: MessageSpan[];
  errors: number;
}

export async function runLatency(
  env: Environment,
  target: Target,
  fleet: Fleet,
  names: readonly string[],
  mode: LatencyMode,
  ratePerSecond = env.config.latencyRate,
): Promise<LatencyRun> {
  const { config } = env;
  const groupOfName: Record<string, string> = {};
  names.forEach((name, i) => {
    const group = groupOf(config, i);
    if (group !== null) groupOfName[name] = group;
  });
  // Group messages come from group members only.
  const senders = mode === "group"
    ? names.filter((name) => name in groupOfName)
    : [...names];
  const parts = fleet.split(senders);
  const startAt = now() + config.settleMs;
  const replies = fleet.all<LatencyReply>("latency", (k) => ({
    mode,
    senders: parts[k],
    ratePerSecond: ratePerSecond / fleet.procs.length,
    startAt,
    offsetMs: k * 1000 / ratePerSecond,
    durationMs: config.latencyMs,
    drainMs: 5000,
    quietMs: config.settleMs,
    everyone: names,
    groupOf: groupOfName,
  }), config.latencyMs + 30_000);
  const meter = new CpuMeter([target.server.pid, ...fleet.pids]);
  await sleepUntil(startAt);
  await meter.start();
  await sleepUntil(startAt + config.latencyMs);
  const usage = await meter.stop();
  const results = await replies;
  const samples = results.flatMap((r) => r.samples);
  const sent = results.reduce((n, r) => n + r.sent, 0);
  const fanout = mode === "public"
    ? names.length - 1
    : mode === "group"
    ? config.groupSize - 1
    : 1;
  const stats = percentiles(samples);
  return {
    mode,
    ...stats,
    sent,
    expected: sent * fanout,
    lost: sent * fanout - stats.count,
    errors: results.reduce((n, r) => n + r.errors, 0),
    serverCores: Math.round(usage.processes[0]!.cores * 100) / 100,
    loadCores: usage.processes.slice(1).map((u) =>
      Math.round(u.cores * 100) / 100
    ),
    otherCores: Math.round(usage.otherCores * 100) / 100,
    spans: fanoutSpans(results.map((r) => r.spans)),
  };
}

interface FileReply {
  ok: boolean;
  recipients: number;
  reason: string;
  startedAt: number;
  finishedAt: number;
}

export async function runFile(
  env: Environment,
  target: Target,
  fleet: Fleet,
  from: string,
  fileTarget: { to: string } | { group: string },
): Promise<FileRun> {
  const { config } = env;
  const serverBaselineRss = await rss(target.server.pid) ?? NaN;
  const sampler = await PeakSampler.start([target.server.pid, ...fleet.pids]);
  const meter = new CpuMeter([target.server.pid, ...fleet.pids]);
  await meter.start();
  let reply: FileReply;
  let peaks: Map<number, number>;
  try {
    reply = await fleet.owner(0).call<FileReply>("file_send", {
      from,
      target: fileTarget,
      size: config.fileBytes,
      chunkBytes: 64 * 1024,
    }, 300_000);
  } finally {
    // Stopped in any case: an interval left running would keep us alive.
    peaks = await sampler.stop();
  }
  const usage = await meter.stop();
  const seconds = (reply.finishedAt - reply.startedAt) / 1000;
  return {
    recipients: reply.recipients,
    ok: reply.ok,
    reason: reply.reason,
    seconds,
    megabytesPerSec: config.fileBytes / seconds / 1e6,
    serverBaselineRss,
    serverPeakRss: peaks.get(target.server.pid) ?? NaN,
    clientPeakRss: Math.max(...fleet.pids.map((pid) => peaks.get(pid) ?? 0)),
    serverCores: Math.round(usage.processes[0]!.cores * 100) / 100,
    otherCores: Math.round(usage.otherCores * 100) / 100,
  };
}

// --- Idle connections ---------------------------------------------------------

export interface IdleStep {
  connections: number;
  /** Right after the last connection finished its handshake. */
  serverRss: number;
  rssPerConnection: number;
  connectSeconds: number;
  /**
   * The lowest RSS while the connections sat idle afterwards (last step of
   * the first chat run only, else null): the handshakes' garbage collected.
   */
  settledRss: number | null;
  settledPerConnection: number | null;
  /** When the settled figure was first reached, after the step's reading. */
  settledAfterSeconds: number | null;
}

export interface IdleRun {
  baselineRss: number;
  steps: IdleStep[];
}

/** Opens idle connections in steps (e.g. 2,000 then 10,000) on a fresh server. */
export async function runIdle(
  env: Environment,
  kind: TargetKind,
  log: (line: string) => void,
  settleAfterLast: boolean,
): Promise<IdleRun> {
  const { config } = env;
  const target = await startTarget(env, kind);
  const fleet = new Fleet(env, target, config.idleProcesses);
  try {
    // Let the fresh server and its load processes settle before the baseline.
    await Promise.all(fleet.procs.map((p) => p.call("clock")));
    await sleep(2 * config.settleMs);
    const baselineRss = await rss(target.server.pid) ?? NaN;
    const steps: IdleStep[] = [];
    let open = 0;
    for (const count of config.idleCounts) {
      const names = Array.from(
        { length: count - open },
        (_, i) => `i${open + i}`,
      );
      // Plain relay connections carry a name; chat ones register nothing.
      const { seconds } = await connectAll(
        fleet,
        names,
        false,
        config.connectConcurrency,
      );
      open = count;
      await sleep(2 * config.settleMs);
      const serverRss = await rss(target.server.pid) ?? NaN;
      const last = count === config.idleCounts.at(-1);
      const settled = last && settleAfterLast && kind === "chat" &&
          config.idleSettleMs > 0
        ? await settle(target.server.pid, baselineRss, serverRss, config)
        : null;
      const step: IdleStep = {
        connections: count,
        serverRss,
        rssPerConnection: (serverRss - baselineRss) / count,
        connectSeconds: seconds,
        settledRss: settled?.rss ?? null,
        settledPerConnection: settled
          ? (settled.rss - baselineRss) / count
          : null,
        settledAfterSeconds: settled?.afterSeconds ?? null,
      };
      log(
        `  ${kind} idle ${count}: server RSS ${mib(serverRss)} MiB, ` +
          `${(step.rssPerConnection / 1024).toFixed(1)} KiB per connection ` +
          `(connected ${names.length} in ${seconds.toFixed(1)} s)` +
          (settled
            ? `; settled ${mib(settled.rss)} MiB, ${
              (step.settledPerConnection! / 1024).toFixed(1)
            } KiB per connection, ${settled.afterSeconds.toFixed(1)} s later`
            : ""),
      );
      steps.push(step);
    }
    await fleet.all("close", () => ({ timeoutMs: 10_000, abort: true }), 30_000)
      .catch(() => {});
    return { baselineRss, steps };
  } finally {
    await fleet.stop();
    await target.server.stop();
  }
}

/**
 * Watches an idle server's RSS until the garbage of the connection storm is
 * collected. Deno runs no collection on its own while a server sits idle
 * except V8's memory reducer, some 10-30 s after the last one; until then
 * RSS holds the handshakes' dead objects (promoted while thousands of
 * handshakes waited for the RSA key). Stops 3 s after RSS fell by a fifth
 * of its growth, or after `idleSettleMs`; returns the lowest RSS seen.
 */
async function settle(
  pid: number,
  baselineRss: number,
  startRss: number,
  config: BenchConfig,
): Promise<{ rss: number; afterSeconds: number }> {
  const started = now();
  const dropped = startRss - 0.2 * (startRss - baselineRss);
  let lowest = startRss;
  let lowestAt = started;
  let stopAt = started + config.idleSettleMs;
  while (now() < stopAt) {
    await sleep(500);
    const current = await rss(pid);
    if (current === null) break;
    if (current < lowest) {
      lowest = current;
      lowestAt = now();
    }
    if (lowest <= dropped) stopAt = Math.min(stopAt, lowestAt + 3000);
  }
  return { rss: lowest, afterSeconds: (lowestAt - started) / 1000 };
}

// --- Handshakes and reconnection -----------------------------------------------

export interface HandshakeRun {
  clients: number;
  handshakesPerSec: number;
  serverCpuMsPerHandshake: number;
  registerSeconds: number;
  restartSeconds: number;
  /** From the new server's first "listening" line to the last client registered again. */
  reconnectSeconds: number;
  /** From asking the old server to stop to the last client registered again. */
  outageSeconds: number;
  reconnected: number;
  attempts: number;
}

interface ReconnectReply {
  armed: number;
  reconnected: number;
  lastAt: number;
  attempts: number;
  lastError: string;
}

export async function runHandshakes(
  env: Environment,
  log: (line: string) => void,
): Promise<HandshakeRun> {
  const { config } = env;
  const target = await startTarget(env, "chat");
  let server = target.server;
  const fleet = new Fleet(env, target, config.loadProcesses);
  try {
    await Promise.all(fleet.procs.map((p) => p.call("clock")));
    const names = Array.from(
      { length: config.handshakeClients },
      (_, i) => `h${i}`,
    );
    const meter = new CpuMeter([server.pid]);
    await meter.start();
    const { seconds } = await connectAll(
      fleet,
      names,
      false,
      config.connectConcurrency,
    );
    const [cpu] = (await meter.stop()).processes;
    const registerStart = now();
    const registered = await fleet.all<{ failed: number; firstError: string }>(
      "register",
      () => ({ concurrency: config.connectConcurrency }),
      120_000,
    );
    const failed = registered.reduce((n, r) => n + r.failed, 0);
    if (failed > 0) {
      throw new Error(
        `${failed} clients failed to register: ${
          registered.find((r) => r.firstError)?.firstError
        }`,
      );
    }
    const registerSeconds = (now() - registerStart) / 1000;
    await fleet.all("arm_reconnect", () => ({
      retryMs: 100,
      timeoutMs: 60_000,
    }), 10_000);
    const stopAsked = now();
    await server.stop();
    server = await restartChat(env, target);
    const listening = now();
    const results = await fleet.all<ReconnectReply>(
      "await_reconnect",
      () => ({ timeoutMs: 60_000 }),
      70_000,
    );
    const reconnected = results.reduce((n, r) => n + r.reconnected, 0);
    const lastAt = Math.max(...results.map((r) => r.lastAt));
    const run: HandshakeRun = {
      clients: names.length,
      handshakesPerSec: names.length / seconds,
      serverCpuMsPerHandshake: (cpu!.seconds / names.length) * 1000,
      registerSeconds,
      restartSeconds: (listening - stopAsked) / 1000,
      reconnectSeconds: (lastAt - listening) / 1000,
      outageSeconds: (lastAt - stopAsked) / 1000,
      reconnected,
      attempts: results.reduce((n, r) => n + r.attempts, 0),
    };
    if (reconnected < names.length) {
      log(
        `  only ${reconnected} of ${names.length} reconnected: ${
          results.find((r) => r.lastError)?.lastError
        }`,
      );
    }
    log(
      `  handshakes: ${run.handshakesPerSec.toFixed(0)}/s ` +
        `(${run.serverCpuMsPerHandshake.toFixed(2)} ms server CPU each); ` +
        `${names.length} registered in ${registerSeconds.toFixed(2)} s; ` +
        `after a restart all back in ${run.reconnectSeconds.toFixed(2)} s ` +
        `(${run.outageSeconds.toFixed(2)} s outage)`,
    );
    await fleet.all("close", () => ({ timeoutMs: 5000, abort: true }), 20_000)
      .catch(() => {});
    return run;
  } finally {
    await fleet.stop();
    await server.stop();
  }
}

export function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}
