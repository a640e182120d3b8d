/**
 * The crowd: a public room of many people typing at a human pace (500
 * people, one message every 10 s each, in the full run), on each server in
 * turn: how long a message takes to reach everyone, and what the server
 * needs for it (cores, memory). Issue 21 asks what an operator choosing
 * between this and an IRC server for 500 people would want to know; the
 * room of 100 (bench/_scenarios.ts, runRoom) is the closer look.
 */

import { rss } from "./_proc.ts";
import {
  connectAll,
  type Environment,
  Fleet,
  type LatencyRun,
  runLatency,
  startTarget,
  type TargetKind,
} from "./_scenarios.ts";

export interface CrowdRun extends LatencyRun {
  /** The server's RSS right after the run, bytes. */
  serverRss: number;
}

export interface CrowdResult {
  kind: TargetKind;
  clients: number;
  ratePerSecond: number;
  connectSeconds: number;
  /** The server's RSS with everyone connected, before any message, bytes. */
  connectedRss: number;
  runs: CrowdRun[];
}

export function crowdNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `c${i}`);
}

export async function runCrowd(
  env: Environment,
  kind: TargetKind,
  log: (line: string) => void,
): Promise<CrowdResult> {
  const { config } = env;
  const target = await startTarget(env, kind);
  const fleet = new Fleet(env, target, config.loadProcesses);
  try {
    const names = crowdNames(config.crowdClients);
    const connected = await connectAll(
      fleet,
      names,
      true,
      config.connectConcurrency,
    );
    const connectedRss = await rss(target.server.pid) ?? NaN;
    log(
      `  ${names.length} people connected in ${
        connected.seconds.toFixed(2)
      } s (server RSS ${(connectedRss / 1048576).toFixed(0)} MiB)`,
    );
    // Discarded, as in the room: the first run measures the JIT compiling
    // the paths and the connection storm's garbage being collected.
    await runLatency(env, target, fleet, names, "public", config.crowdRate);
    const runs: CrowdRun[] = [];
    for (let r = 0; r < config.runs; r++) {
      const run = await runLatency(
        env,
        target,
        fleet,
        names,
        "public",
        config.crowdRate,
      );
      const serverRss = await rss(target.server.pid) ?? NaN;
      log(
        `  crowd run ${r + 1}: p50 ${run.p50.toFixed(2)} ms, p99 ${
          run.p99.toFixed(2)
        } ms, max ${
          run.max.toFixed(2)
        } ms (${run.count} deliveries, ${run.lost} missing; server ${run.serverCores} cores, RSS ${
          (serverRss / 1048576).toFixed(0)
        } MiB; load ${
          run.loadCores.join("+")
        }, other work ${run.otherCores} cores)`,
      );
      runs.push({ ...run, serverRss });
    }
    return {
      kind,
      clients: names.length,
      ratePerSecond: config.crowdRate,
      connectSeconds: connected.seconds,
      connectedRss,
      runs,
    };
  } finally {
    await fleet.stop();
    await target.server.stop();
  }
}
