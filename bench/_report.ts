/**
 * The bench's results: their JSON shape, the table printed on stdout and
 * the issue's targets judged against the figures.
 */

import type { CrowdResult } from "./_crowd.ts";
import type { RealFilesResult } from "./_files_real.ts";
import type { Machine, MachineLimits } from "./_machine.ts";
import type { ProfileSummary } from "./_profile.ts";
import {
  type BenchConfig,
  cellLabel,
  type FanoutCell,
  fanoutCells,
  type FanoutMemory,
  type FanoutRun,
  type HandshakeRun,
  type IdleRun,
  type IdleStep,
  type LatencyMode,
  type RoomResult,
  type TargetKind,
} from "./_scenarios.ts";
import { type Spread, spread, spreadOf } from "./_stats.ts";

export interface TargetCheck {
  target: string;
  ours: string;
  reference: string;
  met: boolean | null;
  by: string;
}

export interface Results {
  version: 1;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  quick: boolean;
  config: BenchConfig;
  machine: Machine;
  loadAverageAtEnd: number[];
  machineLimits: MachineLimits;
  chatServerArgs: string[];
  /** How the chat and plain-relay load clients connected. */
  transport: string;
  notes: string[];
  room: Partial<Record<TargetKind, RoomResult>>;
  /** Many people typing (bench/_crowd.ts); absent in results from before it. */
  crowd?: Partial<Record<TargetKind, CrowdResult>>;
  idle: Partial<Record<TargetKind, IdleRun[]>>;
  handshake: HandshakeRun[];
  /** --profile: the chat server under fan-out, public latency load, a file relay. */
  profile: ProfileSummary | null;
  latencyProfile: ProfileSummary | null;
  fileProfile: ProfileSummary | null;
  /** Files between real `chat connect` processes, and scp (bench/_files_real.ts). */
  realFiles?: RealFilesResult;
  targets: TargetCheck[];
}

const KINDS: TargetKind[] = ["chat", "irc", "plain"];
const MODES: LatencyMode[] = ["public", "group", "private"];

type Cell = Spread | null;

function num(n: number, digits: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(digits);
}

function cell(s: Cell, digits: number, runs: number): string {
  if (s === null || !Number.isFinite(s.median)) return "-";
  if (runs <= 1 || s.min === s.max) return num(s.median, digits);
  return `${num(s.median, digits)} (${num(s.min, digits)}–${
    num(s.max, digits)
  })`;
}

function ratio(a: Cell, b: Cell): string {
  if (a === null || b === null || !(b.median !== 0)) return "-";
  const r = a.median / b.median;
  return Number.isFinite(r) ? `${r.toFixed(r >= 10 ? 1 : 2)}x` : "-";
}

interface Row {
  label: string;
  cells: Record<TargetKind, Cell>;
  digits: number;
}

/** The runs of one cell of the fan-out matrix. */
function runsOf(room: RoomResult, cell: FanoutCell): FanoutRun[] {
  return room.fanout.filter((r) =>
    r.senders === cell.senders && r.window === cell.window &&
    r.bodyBytes === cell.bodyBytes
  );
}

/** The cell the main table shows: 4 x 2048 with 100 bytes, if measured. */
function headlineCell(config: BenchConfig): FanoutCell | null {
  const cells = fanoutCells(config);
  return cells.find((c) =>
    c.senders === 4 && c.window === 2048 && c.bodyBytes === 100
  ) ?? cells.find((c) => c.bodyBytes === 100) ?? cells[0] ?? null;
}

/**
 * The fan-out matrix as a Markdown table (for the README): chat against
 * ngircd in every cell, medians with min-max over the runs.
 */
export function matrixTable(results: Results): string {
  const chat = results.room.chat;
  const irc = results.room.irc;
  const runs = results.config.runs;
  const lines = [
    "| senders x in flight, body | chat deliveries/s | ngircd deliveries/s | chat/ngircd | server CPU µs per delivery, chat (ngircd) | server peak RSS MiB, chat (ngircd) |",
    "|---|---|---|---|---|---|",
  ];
  for (const c of fanoutCells(results.config)) {
    const ours = chat ? runsOf(chat, c) : [];
    const theirs = irc ? runsOf(irc, c) : [];
    if (ours.length === 0 && theirs.length === 0) continue;
    const of = (list: FanoutRun[], f: (r: FanoutRun) => number): Cell =>
      list.length ? spreadOf(list, f) : null;
    const rate = [
      of(ours, (r) => r.deliveriesPerSec),
      of(theirs, (r) => r.deliveriesPerSec),
    ] as const;
    const cpu = (list: FanoutRun[]) =>
      cell(of(list, (r) => r.serverCpuUsPerDelivery), 2, 1);
    const peak = (list: FanoutRun[]) =>
      cell(of(list, (r) => r.serverPeakRss / 1048576), 0, 1);
    lines.push(
      `| ${cellLabel(c)} | ${cell(rate[0], 0, runs)} | ${
        cell(rate[1], 0, runs)
      } | ${ratio(rate[0], rate[1])} | ${cpu(ours)} (${cpu(theirs)}) | ${
        peak(ours)
      } (${peak(theirs)}) |`,
    );
  }
  return lines.join("\n");
}

/** A row's cells: `f` of each server's result, none where it was not run. */
function perKind<T>(
  measured: Partial<Record<TargetKind, T>>,
  f: (r: T) => Spread | null,
): Record<TargetKind, Cell> {
  const cells = {} as Record<TargetKind, Cell>;
  for (const kind of KINDS) {
    const r = measured[kind];
    cells[kind] = r ? f(r) : null;
  }
  return cells;
}

export function rows(results: Results): (Row | string)[] {
  const pick = (f: (r: RoomResult) => Spread | null) =>
    perKind(results.room, f);
  const out: (Row | string)[] = [];
  const headline = headlineCell(results.config);
  const fanoutOf = (r: RoomResult) =>
    headline === null ? [] : runsOf(r, headline);
  out.push(
    `1. Fan-out (public room, closed-loop senders), ${
      headline === null ? "-" : cellLabel(headline)
    } (the whole matrix below)`,
  );
  out.push({
    label: "deliveries/s (higher is better)",
    cells: pick((r) => spreadOf(fanoutOf(r), (x) => x.deliveriesPerSec)),
    digits: 0,
  });
  out.push({
    label: "server CPU µs per delivery",
    cells: pick((r) => spreadOf(fanoutOf(r), (x) => x.serverCpuUsPerDelivery)),
    digits: 2,
  });
  out.push({
    label: "server CPU (cores busy)",
    cells: pick((r) => spreadOf(fanoutOf(r), (x) => x.serverCores)),
    digits: 2,
  });
  out.push({
    label: "load processes CPU (cores, all)",
    cells: pick((r) =>
      spreadOf(fanoutOf(r), (x) => x.loadCores.reduce((a, b) => a + b, 0))
    ),
    digits: 2,
  });
  out.push({
    label: "other work on the machine (cores)",
    cells: pick((r) => spreadOf(fanoutOf(r), (x) => x.otherCores)),
    digits: 2,
  });
  out.push({
    label: "server peak RSS MiB, any cell",
    cells: pick((r) => spreadOf(r.fanout, (x) => x.serverPeakRss / 1048576)),
    digits: 0,
  });
  const memory = (f: (m: FanoutMemory) => number) =>
    pick((r) => r.fanoutMemory ? spread([f(r.fanoutMemory) / 1048576]) : null);
  out.push({
    label: "server RSS MiB before the matrix",
    cells: memory((m) => m.beforeRss),
    digits: 0,
  });
  out.push({
    label: `  ${results.config.afterFanoutMs / 1000} s after it`,
    cells: memory((m) => m.afterRss),
    digits: 0,
  });
  out.push(
    `2. Latency at ${results.config.latencyRate} msg/s, ${results.config.roomClients} users (ms, lower is better)`,
  );
  for (const mode of MODES) {
    const name = mode === "group"
      ? `${results.config.groups} groups of ${results.config.groupSize}`
      : mode;
    for (const p of ["p50", "p99", "max"] as const) {
      out.push({
        label: `${name} ${p}`,
        cells: pick((r) => spreadOf(r.latency[mode], (x) => x[p])),
        digits: 2,
      });
    }
  }
  out.push({
    label: "other work on the machine (cores)",
    cells: pick((r) =>
      spreadOf(
        [...r.latency.public, ...r.latency.group, ...r.latency.private],
        (x) => x.otherCores,
      )
    ),
    digits: 2,
  });
  const mb = (results.config.fileBytes / 1024 / 1024).toFixed(0);
  out.push(`3. File relay, ${mb} MiB (MB/s, higher is better)`);
  out.push({
    label: "one to one MB/s",
    cells: pick((r) =>
      r.file ? spreadOf(r.file.direct, (x) => x.megabytesPerSec) : null
    ),
    digits: 0,
  });
  out.push({
    label: `one to a group of ${results.config.fileGroupRecipients} MB/s`,
    cells: pick((r) =>
      r.file ? spreadOf(r.file.group, (x) => x.megabytesPerSec) : null
    ),
    digits: 0,
  });
  out.push({
    label: "server peak RSS MiB (1:1 / group)",
    cells: pick((r) =>
      r.file
        ? spreadOf(
          [...r.file.direct, ...r.file.group],
          (x) => x.serverPeakRss / 1048576,
        )
        : null
    ),
    digits: 0,
  });
  out.push({
    label: "server RSS growth MiB during transfer",
    cells: pick((r) =>
      r.file
        ? spreadOf(
          [...r.file.direct, ...r.file.group],
          (x) => (x.serverPeakRss - x.serverBaselineRss) / 1048576,
        )
        : null
    ),
    digits: 0,
  });
  out.push({
    label: "load process peak RSS MiB",
    cells: pick((r) =>
      r.file
        ? spreadOf(
          [...r.file.direct, ...r.file.group],
          (x) => x.clientPeakRss / 1048576,
        )
        : null
    ),
    digits: 0,
  });
  const crowd = results.crowd ?? {};
  const crowdOf = (f: (r: CrowdResult) => Spread | null) => perKind(crowd, f);
  if (Object.keys(crowd).length > 0) {
    out.push(
      `3b. A crowd: ${results.config.crowdClients} people in the public room, ${results.config.crowdRate} msg/s between them (ms, lower is better)`,
    );
    for (const p of ["p50", "p99", "max"] as const) {
      out.push({
        label: `public ${p}`,
        cells: crowdOf((r) => spreadOf(r.runs, (x) => x[p])),
        digits: 2,
      });
    }
    out.push({
      label: "server CPU (cores busy)",
      cells: crowdOf((r) => spreadOf(r.runs, (x) => x.serverCores)),
      digits: 2,
    });
    out.push({
      label: "server RSS MiB, everyone connected",
      cells: crowdOf((r) => spread([r.connectedRss / 1048576])),
      digits: 0,
    });
    out.push({
      label: "  after each run",
      cells: crowdOf((r) => spreadOf(r.runs, (x) => x.serverRss / 1048576)),
      digits: 0,
    });
    out.push({
      label: "all connected, s",
      cells: crowdOf((r) => spread([r.connectSeconds])),
      digits: 2,
    });
  }
  out.push("4. Idle connections (handshake done, nothing sent)");
  for (const [i, count] of results.config.idleCounts.entries()) {
    const idle = (kind: TargetKind, f: (r: IdleRun) => number): Cell => {
      const runs = results.idle[kind];
      return runs ? spreadOf(runs, f) : null;
    };
    out.push({
      label: `${count} idle: server KiB per connection`,
      cells: {
        chat: idle("chat", (r) => (r.steps[i]?.rssPerConnection ?? NaN) / 1024),
        irc: null,
        plain: idle(
          "plain",
          (r) => (r.steps[i]?.rssPerConnection ?? NaN) / 1024,
        ),
      },
      digits: 1,
    });
    out.push({
      label: `${count} idle: server RSS MiB`,
      cells: {
        chat: idle("chat", (r) => (r.steps[i]?.serverRss ?? NaN) / 1048576),
        irc: null,
        plain: idle("plain", (r) => (r.steps[i]?.serverRss ?? NaN) / 1048576),
      },
      digits: 0,
    });
    if (results.idle.chat?.some((r) => r.steps[i]?.settledRss != null)) {
      const settled = (f: (step: IdleStep) => number | null) =>
        idle("chat", (r) => {
          const step = r.steps[i];
          return step ? f(step) ?? NaN : NaN;
        });
      out.push({
        label: `  settled (first run; garbage collected): KiB per connection`,
        cells: {
          chat: settled((step) =>
            step.settledPerConnection === null
              ? null
              : step.settledPerConnection / 1024
          ),
          irc: null,
          plain: null,
        },
        digits: 1,
      });
      out.push({
        label: `  settled: server RSS MiB`,
        cells: {
          chat: settled((step) =>
            step.settledRss === null ? null : step.settledRss / 1048576
          ),
          irc: null,
          plain: null,
        },
        digits: 0,
      });
      out.push({
        label: `  settled: seconds after connecting`,
        cells: {
          chat: settled((step) => step.settledAfterSeconds),
          irc: null,
          plain: null,
        },
        digits: 1,
      });
    }
  }
  const hs = results.handshake;
  out.push(
    `5. Handshakes (RSA-${results.config.rsaBits}) and reconnection`,
  );
  const only = (f: (r: HandshakeRun) => number): Record<TargetKind, Cell> => ({
    chat: hs.length ? spreadOf(hs, f) : null,
    irc: null,
    plain: null,
  });
  out.push({
    label: "handshakes/s",
    cells: only((r) => r.handshakesPerSec),
    digits: 0,
  });
  out.push({
    label: "server CPU ms per handshake",
    cells: only((r) => r.serverCpuMsPerHandshake),
    digits: 2,
  });
  out.push({
    label: `${results.config.handshakeClients} register, s`,
    cells: only((r) => r.registerSeconds),
    digits: 2,
  });
  out.push({
    label: `${results.config.handshakeClients} back after restart, s`,
    cells: only((r) => r.reconnectSeconds),
    digits: 2,
  });
  out.push({
    label: "  whole outage (stop to all back), s",
    cells: only((r) => r.outageSeconds),
    digits: 2,
  });
  return out;
}

export function table(results: Results): string {
  const runs = results.config.runs;
  const header = [
    "",
    "chat (ours)",
    "ngircd",
    "plain relay",
    "ours/ngircd",
    "ours/plain",
  ];
  const body: string[][] = [];
  for (const row of rows(results)) {
    if (typeof row === "string") {
      body.push([row]);
      continue;
    }
    body.push([
      `  ${row.label}`,
      cell(row.cells.chat, row.digits, runs),
      cell(row.cells.irc, row.digits, runs),
      cell(row.cells.plain, row.digits, runs),
      ratio(row.cells.chat, row.cells.irc),
      ratio(row.cells.chat, row.cells.plain),
    ]);
  }
  const widths = header.map((h, i) =>
    Math.max(
      h.length,
      ...body.filter((r) => r.length > 1).map((r) => r[i]!.length),
    )
  );
  const line = (r: string[]) =>
    r.length === 1
      ? r[0]!
      : r.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))
        .join("  ");
  const limits = results.machineLimits;
  const lines = [
    runs > 1
      ? `Median of ${runs} runs (min–max in brackets).`
      : "One run each.",
    line(header),
    ...body.map(line),
    "Machine limits (measured in-process by the bench)",
    `  WebCrypto AES-256-GCM, 100-byte messages: ${
      num(limits.aes100OpsPerSec, 0)
    } ops/s; 1 MiB buffers: ${
      (limits.aes1MiBBytesPerSec / 1e9).toFixed(2)
    } GB/s`,
    `  node:crypto AES-256-GCM (synchronous), 100-byte messages: ${
      num(limits.nodeAes100OpsPerSec, 0)
    } ops/s; 1 MiB buffers: ${
      (limits.nodeAes1MiBBytesPerSec / 1e9).toFixed(2)
    } GB/s`,
    `  RSA-OAEP decryptions/s: ${
      Object.entries(limits.rsaDecryptsPerSec).map(([k, v]) =>
        `${k.replace("rsa", "")}-bit ${v.toFixed(0)}`
      ).join(", ")
    }`,
  ];
  return lines.join("\n");
}

function median(runs: readonly number[]): number {
  return spread(runs).median;
}

/** The issue's targets, judged on this run's medians. */
export function checkTargets(results: Results): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const chat = results.room.chat;
  const irc = results.room.irc;
  const plain = results.room.plain;
  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
  if (chat) {
    // Every cell of the matrix, judged by medians.
    const cells = fanoutCells(results.config).flatMap((cell) => {
      const ours = median(runsOf(chat, cell).map((r) => r.deliveriesPerSec));
      const theirs = irc
        ? median(runsOf(irc, cell).map((r) => r.deliveriesPerSec))
        : NaN;
      // A cell ngircd cannot run (a body over an IRC line) is not compared.
      return Number.isFinite(ours) && (!irc || Number.isFinite(theirs))
        ? [{ cell, ratio: ours / theirs }]
        : [];
    });
    const worst = cells.reduce<typeof cells[number] | null>(
      (w, c) => w === null || !(c.ratio >= w.ratio) ? c : w,
      null,
    );
    const atOrAbove = cells.filter((c) => c.ratio >= 1).length;
    checks.push({
      target:
        "Fan-out: encrypted deliveries/s >= ngircd's plaintext deliveries/s in every cell of the matrix",
      ours: `${atOrAbove} of ${cells.length} cells at or above`,
      reference: irc ? "ngircd, same cells" : "ngircd not run",
      met: irc ? cells.length > 0 && atOrAbove === cells.length : null,
      by: irc && worst
        ? `worst ${cellLabel(worst.cell)}: x${worst.ratio.toFixed(2)}`
        : "-",
    });
    const peak = Math.max(...chat.fanout.map((r) => r.serverPeakRss)) /
      1048576;
    checks.push({
      target: "Fan-out: server peak RSS < 512 MiB in every cell",
      ours: `${peak.toFixed(0)} MiB at most`,
      reference: "512 MiB",
      met: chat.fanout.length > 0 ? peak < 512 : null,
      by: `${Math.abs(512 - peak).toFixed(0)} MiB ${
        peak < 512 ? "to spare" : "over"
      }`,
    });
    const memory = chat.fanoutMemory;
    if (memory) {
      const times = memory.afterRss / memory.beforeRss;
      checks.push({
        target:
          `Fan-out: server RSS back within 2x of its RSS before the matrix, ${
            memory.afterSeconds.toFixed(0)
          } s after the load ends`,
        ours: `${(memory.afterRss / 1048576).toFixed(0)} MiB after, ${
          (memory.beforeRss / 1048576).toFixed(0)
        } MiB before`,
        reference: "2x",
        met: times <= 2,
        by: `${times.toFixed(2)}x`,
      });
    }
    const p99 = median(chat.latency.public.map((r) => r.p99));
    const ircP99 = irc ? median(irc.latency.public.map((r) => r.p99)) : NaN;
    const plainP99 = plain
      ? median(plain.latency.public.map((r) => r.p99))
      : NaN;
    checks.push({
      target:
        `Latency: public p99 at ${results.config.latencyRate} msg/s x ${results.config.roomClients} users <= 1.5x the plain relay's, and below ngircd's`,
      ours: `${p99.toFixed(2)} ms`,
      reference: `plain relay ${
        plain ? `${plainP99.toFixed(2)} ms` : "not run"
      }, ngircd ${irc ? `${ircP99.toFixed(2)} ms` : "not run"}`,
      met: plain ? p99 <= 1.5 * plainP99 && (!irc || p99 < ircP99) : null,
      by: `${(p99 / plainP99).toFixed(2)}x the plain relay's${
        irc ? `; ${(p99 / ircP99).toFixed(2)}x ngircd's` : ""
      }`,
    });
    if (chat.file && plain?.file) {
      const ours = median(chat.file.direct.map((r) => r.megabytesPerSec));
      const theirs = median(plain.file.direct.map((r) => r.megabytesPerSec));
      const growth = Math.max(
        ...[...chat.file.direct, ...chat.file.group].map((r) =>
          r.serverPeakRss - r.serverBaselineRss
        ),
      ) / 1048576;
      checks.push({
        target:
          "File relay >= 50% of the plain relay's MB/s (one to one), with flat memory (server grows < 64 MiB)",
        ours: `${ours.toFixed(0)} MB/s, server +${growth.toFixed(0)} MiB`,
        reference: `plain relay ${theirs.toFixed(0)} MB/s`,
        met: ours >= theirs / 2 && growth < 64,
        by: `${pct(ours, theirs)} of the plain relay; server peak +${
          growth.toFixed(0)
        } MiB`,
      });
    }
  }
  const idle = results.idle.chat;
  const last = results.config.idleCounts.length - 1;
  if (idle && idle.length > 0) {
    const count = results.config.idleCounts[last]!;
    const rss = median(idle.map((r) => r.steps[last]?.serverRss ?? NaN)) /
      1048576;
    const perConnection = median(idle.map((r) =>
      r.steps[last]?.rssPerConnection ?? NaN
    )) / 1024;
    const settledRss = median(idle.map((r) =>
      r.steps[last]?.settledRss ?? NaN
    )) / 1048576;
    if (count >= 10_000) {
      // Idle means settled: judged once the storm's garbage is collected,
      // when that was measured; the figure right after connecting is shown.
      const judged = Number.isNaN(settledRss) ? rss : settledRss;
      checks.push({
        target: "10,000 idle connections in under 512 MiB of server RSS",
        ours: Number.isNaN(settledRss)
          ? `${rss.toFixed(0)} MiB at ${count}`
          : `${settledRss.toFixed(0)} MiB at ${count} once settled (${
            rss.toFixed(0)
          } MiB right after connecting)`,
        reference: "512 MiB",
        met: judged < 512,
        by: `${Math.abs(512 - judged).toFixed(0)} MiB ${
          judged < 512 ? "to spare" : "over"
        } (${
          perConnection.toFixed(1)
        } KiB per connection right after connecting)`,
      });
    } else {
      // A quick run has too few connections for the total to mean anything;
      // judge the per-connection cost against the 10,000-connection budget.
      const budget = 512 * 1024 / 10_000;
      checks.push({
        target: `Idle connections within the 10,000-in-512-MiB budget (${
          budget.toFixed(1)
        } KiB each)`,
        ours: `${perConnection.toFixed(1)} KiB per connection at ${count}`,
        reference: `${budget.toFixed(1)} KiB`,
        met: perConnection < budget,
        by: `${(perConnection / budget * 100).toFixed(0)}% of the budget`,
      });
    }
  }
  return checks;
}

export function formatTargets(checks: TargetCheck[], quick: boolean): string {
  const lines = [
    quick
      ? "Targets (quick run: fewer clients and smaller files, so only indicative)"
      : "Targets",
  ];
  for (const c of checks) {
    const verdict = c.met === null ? "n/a " : c.met ? "MET " : "MISS";
    lines.push(`  [${verdict}] ${c.target}`);
    lines.push(`         ours ${c.ours}; ${c.reference}; ${c.by}`);
  }
  return lines.join("\n");
}
