/**
 * Issue 19 item 4: deliveries per second and latency with 1, 2 and 3
 * `chat serve --cluster` nodes on this machine, against one node without
 * NATS, in one run. Receivers and senders are spread round robin over the
 * nodes, so with N nodes (N-1)/N of the deliveries cross a node. On a
 * 2-core machine more nodes cannot be faster: the figure that carries to a
 * real deployment is the CPU each delivery costs all processes together
 * (nodes and nats-server), and how it grows with crossing.
 *
 *     deno run -A bench/cluster_nodes.ts [--receivers 30] [--senders 3] [--seconds 5] [--rate 100] [--window 16]
 *
 * Columns: latency p50 / p99 on the sender's node and across, deliveries
 * per second, CPU µs per delivery (all processes; NATS's part), CPU µs per
 * message sent (all processes), the largest node's peak RSS.
 *
 * Phases per setup: latency (one sender, `--rate` public messages per
 * second for 2 s; send to arrival on every receiver), then throughput
 * (every sender keeps `--window` messages unanswered for `--seconds`).
 * Needs nats-server (Debian: apt-get install nats-server).
 */

import { ChatClient, type Incoming } from "../src/client/chat_client.ts";
import { frameAead, frameAeadName } from "../src/crypto/native_aead.ts";
import { ClusterProcesses } from "./_cluster.ts";
import { cpuSeconds, initProc, peakRss } from "./_proc.ts";
import { percentiles } from "./_stats.ts";

function option(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  const value = at === -1 ? fallback : Number(Deno.args[at + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`--${name} takes a positive number`);
  }
  return value;
}

const RECEIVERS = option("receivers", 30);
const SENDERS = option("senders", 3);
const SECONDS = option("seconds", 5);
const RATE = option("rate", 100);
const WINDOW = option("window", 16);
const LATENCY_SECONDS = 2;
const BODY = "x".repeat(100);

interface Setup {
  label: string;
  nodes: number;
  alone: boolean;
}

const SETUPS: Setup[] = [
  { label: "1 node, no NATS", nodes: 1, alone: true },
  { label: "1 node", nodes: 1, alone: false },
  { label: "2 nodes", nodes: 2, alone: false },
  { label: "3 nodes", nodes: 3, alone: false },
];

interface Result {
  setup: Setup;
  sameP50: number;
  sameP99: number;
  crossP50: number | null;
  crossP99: number | null;
  deliveriesPerSec: number;
  cpuUsPerDelivery: number;
  natsCpuUsPerDelivery: number;
  /** All processes' CPU per message sent (each reaches every receiver). */
  cpuUsPerMessage: number;
  peakNodeRssMiB: number;
}

async function runSetup(setup: Setup): Promise<Result> {
  const processes = await ClusterProcesses.open();
  const clients: ChatClient[] = [];
  try {
    const nodes: { url: string; child: Deno.ChildProcess }[] = [];
    for (let i = 0; i < setup.nodes; i++) {
      nodes.push(await processes.node(setup.alone));
    }
    const connect = async (name: string, node: number) => {
      // As chat connect does: OpenSSL's AES-GCM, not WebCrypto's.
      const chat = await ChatClient.connect(nodes[node]!.url, {
        pinnedSpki: processes.spki,
        smallFrames: frameAead,
      });
      const reply = await chat.register(name);
      if (reply.t !== "welcome") throw new Error(JSON.stringify(reply));
      clients.push(chat);
      return chat;
    };
    // Arrival times of one text on each receiver, by receiver index.
    const arrivals = new Map<string, number[]>();
    let delivered = 0;
    const receiverNode: number[] = [];
    for (let r = 0; r < RECEIVERS; r++) {
      const node = r % setup.nodes;
      receiverNode.push(node);
      const chat = await connect(`r${r}`, node);
      chat.onMessage((incoming: Incoming) => {
        if (incoming.message.t !== "public") return;
        delivered++;
        const text = new TextDecoder().decode(incoming.body);
        arrivals.get(text)?.push(performance.now(), r);
      });
    }
    const senders: ChatClient[] = [];
    for (let s = 0; s < SENDERS; s++) {
      senders.push(await connect(`s${s}`, s % setup.nodes));
    }
    // Every receiver hears a first message: the room is in place everywhere.
    for (let i = 0; i < 10; i++) {
      const start = delivered;
      await senders[0]!.say(`warm ${i} ${BODY}`);
      const deadline = Date.now() + 10_000;
      while (delivered - start < RECEIVERS && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }

    // Latency: sender 0 (on node 0) at RATE messages per second.
    const same: number[] = [];
    const cross: number[] = [];
    const sentAt = new Map<string, number>();
    const count = RATE * LATENCY_SECONDS;
    const begin = performance.now();
    for (let i = 0; i < count; i++) {
      const due = begin + i * 1000 / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const text = `lat ${i} ${BODY}`;
      arrivals.set(text, []);
      sentAt.set(text, performance.now());
      senders[0]!.say(text);
    }
    const settle = Date.now() + 10_000;
    while (
      [...arrivals.values()].some((a) => a.length < RECEIVERS * 2) &&
      Date.now() < settle
    ) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const [text, seen] of arrivals) {
      for (let k = 0; k < seen.length; k += 2) {
        const ms = seen[k]! - sentAt.get(text)!;
        (receiverNode[seen[k + 1]!] === 0 ? same : cross).push(ms);
      }
    }
    arrivals.clear();

    // Throughput: every sender keeps WINDOW messages unanswered.
    const pids = nodes.map((n) => n.child.pid);
    const natsPid = processes.nats.pid;
    const cpuBefore = await Promise.all(pids.map((p) => cpuSeconds(p)));
    const natsBefore = await cpuSeconds(natsPid);
    const deliveredBefore = delivered;
    const started = performance.now();
    const until = started + SECONDS * 1000;
    let n = 0;
    let sent = 0;
    await Promise.all(senders.map(async (sender) => {
      const inFlight = new Set<Promise<unknown>>();
      while (performance.now() < until) {
        const p = sender.say(`load ${n++} ${BODY}`).then(() => sent++)
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= WINDOW) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    }));
    const seconds = (performance.now() - started) / 1000;
    const deliveries = delivered - deliveredBefore;
    const cpuAfter = await Promise.all(pids.map((p) => cpuSeconds(p)));
    const natsAfter = await cpuSeconds(natsPid);
    const nodeCpu = cpuAfter.reduce(
      (sum: number, after, i) => sum + (after ?? 0) - (cpuBefore[i] ?? 0),
      0,
    );
    const natsCpu = (natsAfter ?? 0) - (natsBefore ?? 0);
    const rss = await Promise.all(pids.map((p) => peakRss(p)));
    const lat = (values: number[]) =>
      values.length === 0 ? null : percentiles(values);
    const s = lat(same)!;
    const c = lat(cross);
    return {
      setup,
      sameP50: s.p50,
      sameP99: s.p99,
      crossP50: c?.p50 ?? null,
      crossP99: c?.p99 ?? null,
      deliveriesPerSec: deliveries / seconds,
      cpuUsPerDelivery: (nodeCpu + natsCpu) / deliveries * 1e6,
      natsCpuUsPerDelivery: natsCpu / deliveries * 1e6,
      cpuUsPerMessage: (nodeCpu + natsCpu) / sent * 1e6,
      peakNodeRssMiB: Math.max(...rss.map((b) => (b ?? 0) / 2 ** 20)),
    };
  } finally {
    await Promise.allSettled(clients.map((c) => c.quit()));
    await processes.close();
  }
}

await initProc();
console.log(
  `cluster bench: ${navigator.hardwareConcurrency} cores, load average ${
    Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
  }, AES-GCM through ${frameAeadName}; ${RECEIVERS} receivers and ${SENDERS} senders spread over the nodes, ${BODY.length}-byte public messages; latency at ${RATE} msg/s from a sender on node 1; throughput: each sender keeps ${WINDOW} unanswered for ${SECONDS} s`,
);
const rows: Result[] = [];
for (const setup of SETUPS) {
  const result = await runSetup(setup);
  rows.push(result);
  const f = (v: number | null) => v === null ? "-" : v.toFixed(2);
  console.log(
    `| ${setup.label} | ${f(result.sameP50)} / ${f(result.sameP99)} ms | ${
      f(result.crossP50)
    } / ${f(result.crossP99)} ms | ${
      (result.deliveriesPerSec / 1000).toFixed(1)
    } k | ${result.cpuUsPerDelivery.toFixed(2)} (NATS ${
      result.natsCpuUsPerDelivery.toFixed(2)
    }) | ${result.cpuUsPerMessage.toFixed(0)} | ${
      result.peakNodeRssMiB.toFixed(0)
    } MiB |`,
  );
}
console.log(
  `load average at the end ${
    Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
  }`,
);
// Every process it started is stopped by now; a client's leftover timer or
// socket kept the bench alive after its last line (session 12).
Deno.exit(0);
