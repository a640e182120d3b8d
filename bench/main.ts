/**
 * `deno task bench`: measures `chat serve` under load, side by side with
 * ngircd and a plain Deno WebSocket relay on the same machine in the same run,
 * and reports the figures, the ratios and the targets.
 *
 *     deno task bench [--quick] [--runs N] [--profile] [--out DIR]
 *                     [--skip chat,irc,plain,room,fanout,latency,files,crowd,realfiles,idle,handshake]
 *                     [--profile-files] [--time-limit-s N]
 *                     [--server-args "--data :memory:"] [--transport tcp|websocket]
 *                     [--senders N,..] [--window N,..] [--body N,..] [--fanout-ms N]
 *
 * Progress goes to stderr; the report table to stdout; raw figures to
 * bench/results/<timestamp>.json and the latency chart to
 * bench/results/latency.svg. Every process it starts is killed when it ends,
 * whatever happens; the whole run is bounded (50 minutes, --quick 4, or
 * --time-limit-s), and a run stopped there writes what it had measured to
 * bench/results/<timestamp>-partial.json.
 */

import { SEND_CIDS } from "./_chat_target.ts";
import { toBase64 } from "../src/crypto/bytes.ts";
import { generateRsaKeyPair, importPublicKeyPem } from "../src/crypto/keys.ts";
import { parseFlags } from "./_args.ts";
import {
  formatRealFiles,
  REAL_FILES_FULL,
  REAL_FILES_QUICK,
  realFilesTargets,
  runRealFiles,
} from "./_files_real.ts";
import { killAll, messageOf, now } from "./_ipc.ts";
import { describeMachine, measureMachineLimits } from "./_machine.ts";
import { closeProc, initProc } from "./_proc.ts";
import {
  formatProfile,
  type ProfileSummary,
  summariseProfileDir,
} from "./_profile.ts";
import {
  checkTargets,
  formatTargets,
  matrixTable,
  type Results,
  table,
} from "./_report.ts";
import {
  type BenchConfig,
  connectAll,
  type Environment,
  Fleet,
  type HandshakeRun,
  type IdleRun,
  type LatencyMode,
  roomNames,
  runFanout,
  runFile,
  runHandshakes,
  runIdle,
  runLatency,
  runRoom,
  startTarget,
  type TargetKind,
} from "./_scenarios.ts";
import { runCrowd } from "./_crowd.ts";
import { findNgircd, liftedLimits, serverPermissions } from "./_servers.ts";
import { spreadOf } from "./_stats.ts";
import { latencySvg } from "./_svg.ts";

const FULL: BenchConfig = {
  quick: false,
  runs: 3,
  loadProcesses: 2,
  roomClients: 100,
  groups: 10,
  groupSize: 10,
  // The fan-out matrix (issue 21): a few or everyone sending, each keeping
  // 4 messages unanswered (people typing) or 2048 (enough to keep both
  // servers busy), with a 16-byte body, what people type (100) and a long one.
  fanoutSenders: [4, 99],
  fanoutWindows: [4, 2048],
  fanoutBodies: [16, 100, 1000],
  fanoutMs: 3000,
  warmupMs: 300,
  latencyRate: 200,
  // 5 s: 1,000 messages, 99,000 public deliveries a run. At 1 s the p99 was
  // set by about two messages' fan-outs, so one stall of a few ms (a GC, the
  // process descheduled) decided the ratio.
  latencyMs: 5000,
  // 500 people typing, one message every 10 s each: what an operator
  // choosing between this and an IRC server for a big room wants to know.
  crowdClients: 500,
  crowdRate: 50,
  fileBytes: 256 * 1024 * 1024,
  fileGroupRecipients: 5,
  idleCounts: [2000, 10_000],
  idleProcesses: 4,
  idleSettleMs: 40_000,
  handshakeClients: 1000,
  connectConcurrency: 16,
  rsaBits: 2048,
  settleMs: 200,
  afterFanoutMs: 30_000,
};

const QUICK: BenchConfig = {
  ...FULL,
  quick: true,
  runs: 1,
  roomClients: 20,
  groups: 4,
  groupSize: 5,
  // One small cell.
  fanoutSenders: [2],
  fanoutWindows: [2048],
  fanoutBodies: [100],
  fanoutMs: 1000,
  warmupMs: 200,
  latencyMs: 500,
  crowdClients: 40,
  crowdRate: 20,
  settleMs: 100,
  fileBytes: 16 * 1024 * 1024,
  idleCounts: [200, 1000],
  idleProcesses: 2,
  idleSettleMs: 0,
  handshakeClients: 200,
  afterFanoutMs: 3000,
};

/** The whole run is cut short (and everything killed) after this. */
const HARD_LIMIT_MS = { quick: 240_000, full: 3_000_000 };

const COLORS: Record<TargetKind, string> = {
  chat: "#1f77b4",
  irc: "#ff7f0e",
  plain: "#7f7f7f",
};
const LABELS: Record<TargetKind, string> = {
  chat: "chat (encrypted)",
  irc: "ngircd (plaintext IRC)",
  plain: "plain Deno relay",
};

const began = performance.now();

function log(line: string): void {
  const seconds = ((performance.now() - began) / 1000).toFixed(1).padStart(5);
  console.error(`[${seconds} s] ${line}`);
}

function transportOf(flag: string | undefined): "tcp" | "websocket" {
  return flag === "websocket" ? "websocket" : "tcp";
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/[:]/g, "-").replace(/\.\d+Z$/, "Z");
}

/** Runs one scenario on a chat server started with --cpu-prof; summarises the profile. */
async function profileScenario(
  env: Environment,
  scenario: "fanout" | "latency" | "file",
  outDir: string,
  stamp: string,
): Promise<ProfileSummary | null> {
  const profileDir = `${env.tempDir}/profile-${scenario}`;
  await Deno.mkdir(profileDir);
  const target = await startTarget(env, "chat", { profileDir });
  const fleet = new Fleet(env, target, env.config.loadProcesses);
  try {
    const names = roomNames(env.config);
    await connectAll(fleet, names, true, env.config.connectConcurrency);
    if (scenario === "fanout") {
      const run = await runFanout(env, target, fleet, names, {
        senders: env.config.fanoutSenders[0]!,
        window: env.config.fanoutWindows.at(-1)!,
        bodyBytes: 100,
      });
      log(
        `  profiled fan-out: ${
          run.deliveriesPerSec.toFixed(0)
        } deliveries/s (profiling slows it down)`,
      );
    } else if (scenario === "file") {
      await fleet.owner(1).call("file_arm", { names: [names[1]] });
      const run = await runFile(env, target, fleet, names[0]!, {
        to: names[1]!,
      });
      log(
        `  profiled file relay: ${
          run.megabytesPerSec.toFixed(0)
        } MB/s one to one (profiling slows it down)`,
      );
    } else {
      const run = await runLatency(env, target, fleet, names, "public");
      log(
        `  profiled public latency: p50 ${run.p50.toFixed(2)} ms, p99 ${
          run.p99.toFixed(2)
        } ms (profiling slows it down)`,
      );
    }
  } finally {
    await fleet.stop();
    // SIGTERM makes the server shut down and exit, which writes the profile.
    await target.server.stop();
  }
  const summary = await summariseProfileDir(profileDir);
  if (summary === null) return null;
  const kept = `${outDir}/profile-${scenario}-${stamp}.cpuprofile`;
  await Deno.copyFile(summary.file, kept);
  summary.file = kept;
  await Deno.writeTextFile(
    `${outDir}/profile-${scenario}-${stamp}.txt`,
    formatProfile(summary) + "\n",
  );
  return summary;
}

function writeSvg(results: Results): string {
  const titles: Record<LatencyMode, string> = {
    public: "public room",
    group: `${results.config.groups} groups of ${results.config.groupSize}`,
    private: "private messages",
  };
  const kinds = (["chat", "irc", "plain"] as const).filter((k) =>
    results.room[k] !== undefined
  );
  return latencySvg(
    (["public", "group", "private"] as const).map((mode) => ({
      title: titles[mode],
      series: kinds.map((kind) => {
        const runs = results.room[kind]!.latency[mode];
        return {
          label: LABELS[kind],
          color: COLORS[kind],
          p50: spreadOf(runs, (r) => r.p50),
          p99: spreadOf(runs, (r) => r.p99),
          max: spreadOf(runs, (r) => r.max),
        };
      }),
    })),
    {
      title:
        `Delivery latency at ${results.config.latencyRate} messages/s, ${results.config.roomClients} users`,
      subtitle:
        `${results.machine.cpus} CPUs (${results.machine.cpuModel}), Deno ${results.machine.deno}, ${results.startedAt}${
          results.quick ? ", quick run" : ""
        }; bar: median of ${results.config.runs} run(s), whisker: min–max`,
      targetMs: 5,
    },
  );
}

async function main(args: string[]): Promise<number> {
  const flags = parseFlags(args);
  const quick = flags.has("quick");
  const config: BenchConfig = { ...(quick ? QUICK : FULL) };
  if (flags.has("runs")) config.runs = Math.max(1, Number(flags.get("runs")));
  const list = (flag: string) => flags.get(flag)!.split(",").map(Number);
  if (flags.has("senders")) config.fanoutSenders = list("senders");
  if (flags.has("window")) config.fanoutWindows = list("window");
  if (flags.has("body")) config.fanoutBodies = list("body");
  if (flags.has("fanout-ms")) config.fanoutMs = Number(flags.get("fanout-ms"));
  const skip = new Set((flags.get("skip") ?? "").split(",").filter(Boolean));
  const outDir = flags.get("out") ??
    new URL("./results", import.meta.url).pathname;
  const started = new Date();
  const stamp = timestamp(started);
  const startedAt = now();

  const limitMs = flags.has("time-limit-s")
    ? Number(flags.get("time-limit-s")) * 1000
    : quick
    ? HARD_LIMIT_MS.quick
    : HARD_LIMIT_MS.full;
  if (!(limitMs > 0)) {
    throw new Error("--time-limit-s takes a number of seconds");
  }
  // What has been measured so far, kept if the run is stopped at its limit:
  // twenty minutes of figures are worth having even when the rest hung.
  let measured: Results | null = null;
  const hardLimit = setTimeout(() => {
    log(`bench: over ${limitMs / 60_000} minutes; stopping everything`);
    killAll();
    if (measured !== null) {
      const partialPath = `${outDir}/${stamp}-partial.json`;
      measured.notes.push(
        "stopped at the run's time limit: only the steps before it are here",
      );
      measured.seconds = Math.round((now() - startedAt) / 100) / 10;
      Deno.writeTextFileSync(
        partialPath,
        JSON.stringify(measured, null, 2) + "\n",
      );
      log(`bench: what was measured is in ${partialPath}`);
    }
    Deno.exit(2);
  }, limitMs);
  const onSignal = () => {
    killAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const tempDir = await Deno.makeTempDir({ prefix: "chat-bench-" });
  try {
    await Deno.mkdir(outDir, { recursive: true });
    await initProc();
    const machine = await describeMachine();
    log(
      `bench: ${machine.cpus} CPUs, ${machine.cpuModel}, Deno ${machine.deno}, AES-GCM frames through ${machine.frameAead}${
        quick ? " (quick)" : ""
      }`,
    );
    const machineLimits = await measureMachineLimits(quick ? 600 : 2000);

    const keyDir = `${tempDir}/key`;
    await Deno.mkdir(keyDir);
    const pair = await generateRsaKeyPair(config.rsaBits as 2048);
    await Deno.writeTextFile(`${keyDir}/private.pem`, pair.privatePem, {
      mode: 0o600,
    });
    const { spki } = await importPublicKeyPem(pair.publicPem);

    const notes: string[] = [];
    const lifted = await liftedLimits();
    if (lifted.missing.length > 0) {
      notes.push(
        `chat serve has no ${
          lifted.missing.join(", ")
        }: its default limits apply`,
      );
    }
    const extra = (flags.get("server-args") ?? "").split(/\s+/).filter(Boolean);
    const chatArgs = [...lifted.args, ...extra];
    notes.push(
      `chat serve runs with ${
        chatArgs.join(" ")
      } (per-client rate and per-address limits lifted, as ngircd's flood limits are) and its default data folder beside a fresh copy of the key`,
    );
    notes.push(
      SEND_CIDS
        ? "chat load clients send every chat line with a client id (cid), as `chat connect` does: the server stores and looks up each (CHAT_BENCH_CIDS=0 leaves it out)"
        : "chat load clients send chat lines WITHOUT the client id (cid) `chat connect` adds to each (CHAT_BENCH_CIDS=0): a cheaper path than real clients take",
    );
    notes.push(
      transportOf(flags.get("transport")) === "tcp"
        ? "chat and plain-relay load clients speak WebSocket with chat connect's own client (src/transport/tcp_websocket.ts: TCP_NODELAY, random masks): Deno's own WebSocket client stalls ~40 ms on frames of about 1-64 KiB (Nagle plus delayed ACK); --transport websocket measures with it"
        : "chat and plain-relay load clients use Deno's own WebSocket client (--transport websocket), which nothing of the product uses: it stalls ~40 ms on frames of about 1-64 KiB (Nagle plus delayed ACK)",
    );
    notes.push(
      `fan-out matrix: senders {${config.fanoutSenders}} x messages each keeps unanswered {${config.fanoutWindows}} x public body bytes {${config.fanoutBodies}}, ${
        config.fanoutMs / 1000
      } s per cell, the same load client for every server (--senders, --window, --body change it)`,
    );
    const ngircd = skip.has("irc")
      ? { path: null, note: "ngircd skipped (--skip irc)" }
      : await findNgircd(!quick);
    if (ngircd.note) notes.push(ngircd.note);
    if (ngircd.path !== null) {
      notes.push(
        "ngircd runs with its flood limits lifted (MaxPenaltyTime = 0, MaxConnectionsIP = 0, clients are operators with user mode +F); it does not set TCP_NODELAY, so some of its writes wait for a delayed ACK (~40 ms): that is ngircd as shipped",
      );
    }
    if (ngircd.note) log(`bench: ${ngircd.note}`);

    const env: Environment = {
      config,
      keyDir,
      tempDir,
      spkiBase64: toBase64(spki),
      chatPermissions: await serverPermissions(),
      chatArgs,
      ngircd: ngircd.path,
      lifetimeMs: limitMs,
      transport: transportOf(flags.get("transport")),
    };

    const results: Results = {
      version: 1,
      startedAt: started.toISOString(),
      finishedAt: "",
      seconds: 0,
      quick,
      config,
      machine,
      loadAverageAtEnd: [],
      machineLimits,
      chatServerArgs: chatArgs,
      transport: env.transport,
      notes,
      room: {},
      idle: {},
      handshake: [],
      profile: null,
      latencyProfile: null,
      fileProfile: null,
      targets: [],
    };
    measured = results;

    for (const kind of ["chat", "irc", "plain"] as const) {
      if (skip.has("room") || skip.has(kind)) continue;
      if (kind === "irc" && env.ngircd === null) continue;
      log(
        `bench: ${LABELS[kind]}: fan-out, latency${
          kind === "irc" ? "" : ", files"
        }`,
      );
      const target = await startTarget(env, kind);
      try {
        results.room[kind] = await runRoom(env, target, log, skip);
      } finally {
        await target.server.stop();
      }
    }

    if (!skip.has("crowd")) {
      const crowd: NonNullable<Results["crowd"]> = {};
      results.crowd = crowd;
      for (const kind of ["chat", "irc", "plain"] as const) {
        if (skip.has(kind)) continue;
        if (kind === "irc" && env.ngircd === null) continue;
        log(
          `bench: ${
            LABELS[kind]
          }: a crowd of ${config.crowdClients} people, ${config.crowdRate} messages/s between them`,
        );
        crowd[kind] = await runCrowd(env, kind, log);
      }
    }

    if (!skip.has("idle")) {
      for (const kind of ["chat", "plain"] as const) {
        if (skip.has(kind)) continue;
        log(`bench: ${LABELS[kind]}: idle connections`);
        const runs: IdleRun[] = [];
        // The bare relay is a reference point, measured once; ours three times.
        const count = kind === "plain" ? 1 : config.runs;
        for (let r = 0; r < count; r++) {
          // The settled figure waits ~25 s for V8's memory reducer: once.
          runs.push(await runIdle(env, kind, log, r === 0));
        }
        results.idle[kind] = runs;
      }
    }

    if (!skip.has("handshake") && !skip.has("chat")) {
      log("bench: chat: handshakes and reconnection after a restart");
      const runs: HandshakeRun[] = [];
      for (let r = 0; r < config.runs; r++) {
        runs.push(await runHandshakes(env, log));
      }
      results.handshake = runs;
    }

    if (!skip.has("realfiles") && !skip.has("chat")) {
      const realConfig = quick ? REAL_FILES_QUICK : REAL_FILES_FULL;
      log(
        `bench: files between real chat connect processes, and scp (${
          realConfig.bytes / 1048576
        } MiB)`,
      );
      const profileDir = flags.has("profile-files")
        ? `${outDir}/files-profile-${stamp}`
        : undefined;
      results.realFiles = await runRealFiles(
        {
          tempDir,
          keyDir,
          spkiBase64: env.spkiBase64,
          chatPermissions: env.chatPermissions,
          chatArgs,
          ...(profileDir ? { profileDir } : {}),
        },
        realConfig,
        log,
      );
      if (profileDir) log(`bench: CPU profiles in ${profileDir}`);
    }

    if (flags.has("profile")) {
      log("bench: profiling the chat server under fan-out (--cpu-prof)");
      results.profile = await profileScenario(env, "fanout", outDir, stamp);
      log("bench: profiling the chat server under public latency load");
      results.latencyProfile = await profileScenario(
        env,
        "latency",
        outDir,
        stamp,
      );
      log("bench: profiling the chat server relaying a file");
      results.fileProfile = await profileScenario(env, "file", outDir, stamp);
    }

    results.targets = [
      ...checkTargets(results),
      ...(results.realFiles ? realFilesTargets(results.realFiles) : []),
    ];
    results.finishedAt = new Date().toISOString();
    results.seconds = Math.round((now() - startedAt) / 100) / 10;
    results.loadAverageAtEnd = Deno.loadavg();
    const jsonPath = `${outDir}/${stamp}.json`;
    await Deno.writeTextFile(jsonPath, JSON.stringify(results, null, 2) + "\n");
    const svgPath = `${outDir}/latency.svg`;
    await Deno.writeTextFile(svgPath, writeSvg(results));

    console.log(`chat bench, ${results.startedAt}${quick ? " (quick)" : ""}`);
    console.log(table(results));
    console.log("");
    console.log("Fan-out matrix (median, min–max over the runs)");
    console.log(matrixTable(results));
    console.log("");
    if (results.realFiles) {
      console.log(formatRealFiles(results.realFiles));
      console.log("");
    }
    console.log(formatTargets(results.targets, quick));
    for (
      const profile of [
        results.profile,
        results.latencyProfile,
        results.fileProfile,
      ]
    ) {
      if (profile === null) continue;
      console.log("");
      console.log(formatProfile(profile));
    }
    if (notes.length > 0) {
      console.log("");
      console.log("Notes");
      for (const note of notes) console.log(`  - ${note}`);
    }
    console.log("");
    console.log(`Raw figures: ${jsonPath}`);
    console.log(`Latency chart: ${svgPath}`);
    console.log(`Took ${results.seconds} s`);
    return 0;
  } catch (error) {
    log(`bench: ${error instanceof Error ? error.stack : messageOf(error)}`);
    return 1;
  } finally {
    killAll();
    await closeProc();
    clearTimeout(hardLimit);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
