/**
 * What `chat connect`'s receive path costs per delivered public message: the
 * CPU time (user + system) of one process holding R receiving ChatClients,
 * made as `chat connect` makes them (src/client/session.ts: the TCP
 * WebSocket, OpenSSL's AES-GCM, the native room crypto) and decoding every
 * frame as it does (decodeBatch, parseServerMessage, the delivery ledger),
 * while one sender says N public messages at a steady pace through a real
 * `chat serve` on an ephemeral port. Each run is a fresh receiving process;
 * the figure is the median of the runs.
 *
 *     deno run -A bench/receive_cost.ts [--receivers 25] [--messages 1000]
 *       [--warmup 300] [--rate 200] [--sizes 16,100,1000] [--runs 5]
 *       [--decode full|counting] [--other DIR] [--profile DIR]
 *
 * --decode counting: live chat messages counted without being parsed, as
 * the bench's load processes do (bench/_counting_decoder.ts).
 * --other DIR: receiving processes alternate between this tree and the
 * chat tree at DIR (which has this script too), A B A B against the same
 * server: two versions of the client compared on a noisy machine.
 * --profile DIR: each receiving process writes a V8 CPU profile to a folder
 * of its own under DIR, summarised (bench/_profile.ts) at the end.
 * --v8-flags FLAGS: for the receiving processes (--perf-basic-prof, to read
 * them with `perf record -p PID`).
 *
 * Not part of `deno task bench`.
 */

import process from "node:process";
import { fromBase64, toBase64 } from "../src/crypto/bytes.ts";
import {
  ChatClient,
  type ConnectOptions,
  newClientId,
} from "../src/client/chat_client.ts";
import { generateIdentity, importIdentityPem } from "../src/crypto/identity.ts";
import { generateRsaKeyPair, importPublicKeyPem } from "../src/crypto/keys.ts";
import { frameAead } from "../src/crypto/native_aead.ts";
import { nativeRoomCrypto } from "../src/crypto/native_room.ts";
import { openTerminalConnection } from "../src/transport/tcp_websocket.ts";
import { parseFlags, required } from "./_args.ts";
import { countingDecoder } from "./_counting_decoder.ts";
import { lines, sleepUntil, Tail } from "./_ipc.ts";
import { formatProfile, summariseProfileDir } from "./_profile.ts";
import {
  liftedLimits,
  serverPermissions,
  startChatServer,
} from "./_servers.ts";

/** How long a receiving process may take for any one step. */
const STEP_TIMEOUT_MS = 120_000;

/** The client options of `chat connect` (src/client/session.ts). */
function connectOptions(spki: Uint8Array): ConnectOptions {
  return {
    pinnedSpki: spki,
    smallFrames: frameAead,
    roomCrypto: nativeRoomCrypto,
    openConnection: openTerminalConnection,
  };
}

async function registered(
  url: string,
  options: ConnectOptions,
  name: string,
): Promise<ChatClient> {
  const client = await ChatClient.connect(url, options);
  const identity = await generateIdentity().then((id) =>
    importIdentityPem(id.privatePem)
  );
  const reply = await client.register(name, identity);
  if (reply.t !== "welcome") {
    throw new Error(`register ${name}: ${"text" in reply ? reply.text : ""}`);
  }
  return client;
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * CPU ticks (user + system) of each of this process's threads, by thread
 * name ("main" for the JavaScript thread): where the time went besides the
 * code a JavaScript profile sees.
 */
function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(")");
    const name = task.name === String(pid)
      ? "main"
      : stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    const used = Number(fields[11]) + Number(fields[12]);
    ticks.set(name, (ticks.get(name) ?? 0) + used);
  }
  return ticks;
}

// --- The receiving process ---------------------------------------------------

/**
 * Connects `receivers` clients, says "ready", and once `warmup` public
 * messages have reached every one of them ("warm"), measures its CPU until
 * `messages` more have: one JSON line.
 */
async function receive(flags: Map<string, string>): Promise<void> {
  const url = required(flags, "url");
  const spki = fromBase64(required(flags, "spki"));
  const prefix = required(flags, "names");
  const receivers = Number(required(flags, "receivers"));
  const warmup = Number(required(flags, "warmup"));
  const messages = Number(required(flags, "messages"));
  const counting = flags.get("decode") === "counting";
  let delivered = 0;
  let reached: (() => void) | null = null;
  let target = warmup * receivers;
  const count = () => {
    if (++delivered === target) reached?.();
  };
  const sink = () => count;
  const clients = await Promise.all(
    Array.from({ length: receivers }, (_, i) => {
      const options = connectOptions(spki);
      if (counting) options.decode = countingDecoder(sink);
      return registered(url, options, `${prefix}${i}`);
    }),
  );
  for (const client of clients) {
    client.onMessage(({ message }) => {
      if (message.t === "public" && message.history !== true) count();
    });
  }
  const until = (deliveries: number) =>
    new Promise<void>((resolve) => {
      target = deliveries;
      reached = resolve;
      if (delivered >= deliveries) resolve();
    });
  const warm = until(warmup * receivers);
  console.log("ready");
  await warm;
  const start = cpuMicros();
  const startUsage = process.cpuUsage();
  const startDelivered = delivered;
  const done = until((warmup + messages) * receivers);
  console.log("warm");
  await done;
  const used = cpuMicros() - start;
  const usage = process.cpuUsage(startUsage);
  const deliveries = delivered - startDelivered;
  console.log(JSON.stringify({
    cpuUs: used,
    deliveries,
    userUs: usage.user,
    systemUs: usage.system,
  }));
  // Until the orchestrator has read this process's threads (and closes
  // our stdin).
  await Deno.stdin.readable.pipeTo(new WritableStream());
  for (const client of clients) client.abort();
  Deno.exit(0);
}

// --- The orchestrator ----------------------------------------------------------

interface RunResult {
  tree: string;
  size: number;
  usPerDelivery: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Says `count` public messages of `body` at `rate` a second. */
async function say(
  sender: ChatClient,
  body: Uint8Array,
  count: number,
  rate: number,
): Promise<void> {
  const start = performance.now();
  const replies: Promise<unknown>[] = [];
  for (let k = 0; k < count; k++) {
    await sleepUntil(
      performance.timeOrigin + start + (k * 1000) / rate,
    );
    replies.push(sender.request({ t: "say", cid: newClientId() }, body));
  }
  await Promise.all(replies);
}

async function main(flags: Map<string, string>): Promise<void> {
  const receivers = Number(flags.get("receivers") ?? 25);
  const messages = Number(flags.get("messages") ?? 1000);
  const warmup = Number(flags.get("warmup") ?? 300);
  const rate = Number(flags.get("rate") ?? 200);
  const runs = Number(flags.get("runs") ?? 5);
  const sizes = (flags.get("sizes") ?? "16,100,1000").split(",").map(Number);
  const decode = flags.get("decode") ?? "full";
  const other = flags.get("other");
  const profileDir = flags.get("profile");
  const here = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  const trees = other === undefined ? [here] : [here, other];

  const dir = await Deno.makeTempDir({ prefix: "chat-receive-cost-" });
  const pair = await generateRsaKeyPair(2048);
  await Deno.writeTextFile(`${dir}/private.pem`, pair.privatePem, {
    mode: 0o600,
  });
  const spki = (await importPublicKeyPem(pair.publicPem)).spki;
  const server = await startChatServer({
    dir,
    port: 0,
    permissions: await serverPermissions(),
    extraArgs: (await liftedLimits()).args,
  });
  const url = `ws://127.0.0.1:${server.port}`;
  const sender = await registered(url, connectOptions(spki), "sender");
  console.log(
    `chat serve at ${url}; ${receivers} receivers in one process, ${messages} public messages at ${rate}/s after ${warmup} to warm up, decode ${decode}, ${runs} runs per size${
      other === undefined ? "" : `, alternating ${here} (A) and ${other} (B)`
    }`,
  );
  const results: RunResult[] = [];
  let serial = 0;
  try {
    for (const size of sizes) {
      const body = new TextEncoder().encode(
        "abcdefghijklmnopqrstuvwxyz0123456789".repeat(Math.ceil(size / 36))
          .slice(0, size),
      );
      for (let run = 0; run < runs; run++) {
        for (const [t, tree] of trees.entries()) {
          const label = trees.length === 1 ? "" : t === 0 ? "A" : "B";
          const tag = `r${++serial}x`;
          const profile = profileDir === undefined
            ? null
            : `${profileDir}/${size}-${tag}${label}`;
          const result = await measure({
            tree,
            url,
            spki,
            tag,
            receivers,
            warmup,
            messages,
            decode,
            profile,
            v8Flags: flags.get("v8-flags"),
            sayAll: (count) => say(sender, body, count, rate),
          });
          const usPerDelivery = result.cpuUs / result.deliveries;
          results.push({ tree: label, size, usPerDelivery });
          console.log(
            `${size} B ${label} run ${run + 1}: ${
              usPerDelivery.toFixed(2)
            } µs CPU per delivery (${result.deliveries} deliveries, ${
              (result.cpuUs / 1000).toFixed(0)
            } ms: user ${(result.userUs / 1000).toFixed(0)}, system ${
              (result.systemUs / 1000).toFixed(0)
            }; ticks by thread ${JSON.stringify(result.threads)})`,
          );
        }
      }
    }
  } finally {
    sender.abort();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
  console.log("\nmedian µs CPU per delivery (all runs):");
  for (const size of sizes) {
    for (const [t] of trees.entries()) {
      const label = trees.length === 1 ? "" : t === 0 ? "A" : "B";
      const mine = results.filter((r) => r.size === size && r.tree === label)
        .map((r) => r.usPerDelivery);
      console.log(
        `  ${size} B ${label}: ${median(mine).toFixed(2)}  [${
          mine.map((v) => v.toFixed(2)).join(", ")
        }]`,
      );
    }
  }
  if (profileDir !== undefined) {
    for await (const entry of Deno.readDir(profileDir)) {
      if (!entry.isDirectory) continue;
      const summary = await summariseProfileDir(
        `${profileDir}/${entry.name}`,
      );
      if (summary !== null) {
        console.log(
          `\n${entry.name}\n${
            formatProfile(summary).replace("the chat server", "the receivers")
          }`,
        );
      }
    }
  }
}

interface Measure {
  tree: string;
  url: string;
  spki: Uint8Array;
  tag: string;
  receivers: number;
  warmup: number;
  messages: number;
  decode: string;
  profile: string | null;
  v8Flags: string | undefined;
  sayAll: (count: number) => Promise<void>;
}

/** One receiving process: its CPU for `messages` deliveries to each client. */
interface Measured {
  cpuUs: number;
  deliveries: number;
  userUs: number;
  systemUs: number;
  /** CPU ticks (1/100 s) by thread name. */
  threads: Record<string, number>;
}

async function measure(m: Measure): Promise<Measured> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-net=127.0.0.1",
      "--allow-env",
      ...(m.v8Flags === undefined ? [] : [`--v8-flags=${m.v8Flags}`]),
      ...(m.profile === null
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${m.profile}`]),
      `${m.tree}/bench/receive_cost.ts`,
      "--receive",
      "--url",
      m.url,
      "--spki",
      toBase64(m.spki),
      "--names",
      m.tag,
      "--receivers",
      String(m.receivers),
      "--warmup",
      String(m.warmup),
      "--messages",
      String(m.messages),
      "--decode",
      m.decode,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Tail(child.stderr);
  const out = lines(child.stdout);
  const next = async (): Promise<string> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const line = await Promise.race([
      out.next(),
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () => reject(new Error("receiving process timed out")),
          STEP_TIMEOUT_MS,
        )
      ),
    ]).finally(() => clearTimeout(timer));
    if (line.done) {
      throw new Error(`receiving process ended early:\n${stderr.text}`);
    }
    return line.value;
  };
  try {
    if (await next() !== "ready") throw new Error("expected ready");
    await m.sayAll(m.warmup);
    if (await next() !== "warm") throw new Error("expected warm");
    // Read from here (the child may not read /proc): a few ms off its own
    // marks, for the split by thread only.
    const before = threadTicks(child.pid);
    await m.sayAll(m.messages);
    const result = JSON.parse(await next());
    const threads: Record<string, number> = {};
    for (const [name, ticks] of threadTicks(child.pid)) {
      const spent = ticks - (before.get(name) ?? 0);
      if (spent > 0) threads[name] = spent;
    }
    return { ...result, threads };
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone already.
    }
    throw error;
  } finally {
    await child.stdin.close().catch(() => {});
    await child.status;
    await stderr.done;
  }
}

if (import.meta.main) {
  const flags = parseFlags(Deno.args);
  if (flags.has("receive")) await receive(flags);
  else await main(flags);
}
