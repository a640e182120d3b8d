/**
 * What crossing nodes costs (issue 19, docs/SCALING.md): one nats-server
 * -js and two `chat serve --cluster` nodes on this machine; a sender on
 * node 1, one receiver on node 1 and one on node 2. Public messages are
 * sent one at a time (latency: send to arrival, on each receiver), then
 * as fast as the sender may (throughput: all sent to all arrived); then
 * how many presence entries JetStream takes per second.
 *
 *     deno run --allow-net --allow-read --allow-write --allow-run --allow-env --allow-sys bench/cluster_hop.ts [--messages N]
 *
 * Needs nats-server (Debian: apt-get install nats-server). Every process
 * it starts is killed when it ends.
 */

import { ChatClient, type Incoming } from "../src/client/chat_client.ts";
import { frameAead } from "../src/crypto/native_aead.ts";
import { connectNats, openBucket } from "../src/server/cluster/nats.ts";
import { ClusterProcesses } from "./_cluster.ts";

const args = Deno.args;
const at = args.indexOf("--messages");
const MESSAGES = at === -1 ? 300 : Number(args[at + 1]);
const SEND_RATE_BURST = 40;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function summary(label: string, ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `${label}: p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p99 ${
    percentile(sorted, 0.99).toFixed(2)
  } ms (${ms.length} messages)`;
}

/** Resolves each expected text's arrival time on `client`. */
function arrivals(client: ChatClient): Map<string, (at: number) => void> {
  const waiting = new Map<string, (at: number) => void>();
  client.onMessage((incoming: Incoming) => {
    if (incoming.message.t !== "public") return;
    const text = new TextDecoder().decode(incoming.body);
    waiting.get(text)?.(performance.now());
    waiting.delete(text);
  });
  return waiting;
}

function arrival(
  waiting: Map<string, (at: number) => void>,
  text: string,
): Promise<number> {
  return new Promise((resolve) => waiting.set(text, resolve));
}

const processes = await ClusterProcesses.open();
try {
  const natsPort = processes.natsPort;
  const spki = processes.spki;
  const [url1, url2] = (await Promise.all([
    processes.node(),
    processes.node(),
  ])).map((node) => node.url);
  const client = async (url: string, name: string) => {
    const chat = await ChatClient.connect(url, {
      pinnedSpki: spki,
      smallFrames: frameAead,
    });
    const reply = await chat.register(name);
    if (reply.t !== "welcome") throw new Error(JSON.stringify(reply));
    return chat;
  };
  const sender = await client(url1!, "sender");
  const near = await client(url1!, "near");
  const far = await client(url2!, "far");
  const nearWaiting = arrivals(near);
  const farWaiting = arrivals(far);

  // Warm-up: the far node has the room subscribed once one arrives.
  for (let i = 0; i < 20; i++) {
    const text = `warm ${i}`;
    const both = Promise.all([
      arrival(nearWaiting, text),
      arrival(farWaiting, text),
    ]);
    await sender.say(text);
    await both;
  }

  const nearMs: number[] = [];
  const farMs: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const text = `latency ${i}`;
    const nearAt = arrival(nearWaiting, text);
    const farAt = arrival(farWaiting, text);
    const sentAt = performance.now();
    sender.say(text);
    nearMs.push((await nearAt) - sentAt);
    farMs.push((await farAt) - sentAt);
  }

  // Throughput: all sent at once (in windows the rate limits allow).
  const started = performance.now();
  const nearAll: Promise<number>[] = [];
  const farAll: Promise<number>[] = [];
  const replies: Promise<unknown>[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const text = `burst ${i}`;
    nearAll.push(arrival(nearWaiting, text));
    farAll.push(arrival(farWaiting, text));
    replies.push(sender.say(text));
    if (replies.length % SEND_RATE_BURST === 0) await Promise.all(replies);
  }
  const nearDone = Math.max(...await Promise.all(nearAll)) - started;
  const farDone = Math.max(...await Promise.all(farAll)) - started;

  console.log(
    `chat serve --cluster: 2 nodes and nats-server on this machine (${navigator.hardwareConcurrency} cores, load average ${
      Deno.loadavg()[0]!.toFixed(1)
    })`,
  );
  console.log(summary("same node   ", nearMs));
  console.log(summary("across nodes", farMs));
  const extra = farMs.map((ms, i) => ms - nearMs[i]!);
  console.log(summary("hop (across - same, per message)", extra));
  console.log(
    `burst of ${MESSAGES}: same node ${
      (MESSAGES / nearDone * 1000).toFixed(0)
    } msg/s, across nodes ${(MESSAGES / farDone * 1000).toFixed(0)} msg/s`,
  );
  await Promise.all([sender.quit(), near.quit(), far.quit()]);

  // What presence costs JetStream: an entry written per sign-in, leave or
  // change of a user (cluster/presence.ts), as these puts are.
  const nc = await connectNats([`nats://127.0.0.1:${natsPort}`], "bench");
  const kv = await openBucket(nc, "bench_presence", 15_000);
  const record = new TextEncoder().encode(JSON.stringify({
    name: "someone",
    node: "0123456789abcdef0123456789abcdef",
    connectedAt: Date.now(),
    lastMessageAt: null,
    fingerprint: "SHA256:" + "A".repeat(43),
    away: null,
  }));
  const puts = MESSAGES * 5;
  const putStart = performance.now();
  const inFlight: Promise<number>[] = [];
  for (let i = 0; i < puts; i++) {
    inFlight.push(kv.put(`user${i}.node`, record));
    if (inFlight.length >= 256) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  const putRate = puts / (performance.now() - putStart) * 1000;
  console.log(
    `presence: ${
      putRate.toFixed(0)
    } KV puts/s (${puts} distinct keys, 256 in flight): sign-ins, leaves and changes of users per second, all nodes together`,
  );
  await nc.close();
} finally {
  await processes.close();
}
