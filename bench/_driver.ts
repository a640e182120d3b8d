/**
 * The load processes' side of every scenario, written once against a small
 * connection interface (`BenchConn`) that each server under test implements:
 * `chat` (bench/_chat_target.ts), the plain relay (bench/_plain_target.ts)
 * and IRC (bench/_irc_target.ts). Each load process owns some of the clients;
 * the orchestrator tells them what to do and when (on the shared clock).
 */

import { SpanRecorder } from "./_fanout_spans.ts";
import { type Handler, messageOf, now, sleep, sleepUntil } from "./_ipc.ts";

export type ChatKind = "public" | "group" | "private";

/**
 * How a WebSocket client connects: "tcp", as `chat connect` does, over a
 * TCP_NODELAY socket (src/transport/tcp_websocket.ts), or "websocket", Deno's
 * own client (which stalls on a delayed ACK; see that file).
 */
export type Transport = "tcp" | "websocket";

export type FileTarget = { to: string } | { group: string };

export interface FileOutcome {
  ok: boolean;
  recipients: number;
  reason: string;
}

/**
 * A delivered chat message's body is `source` from `start` to `end`, handed
 * over in parts so that counting a delivery makes no object (a view per
 * delivery was a tenth of a load process at millions a second). `source`
 * may be a reused buffer: read it, do not keep it.
 */
export type ChatListener = (
  kind: ChatKind,
  source: Uint8Array | string,
  start: number,
  end: number,
) => void;

/** One client connection of the server under test. */
export interface BenchConn {
  readonly name: string;
  /** Chat messages sent and not yet answered (or, for IRC, not yet PONGed). */
  readonly unacked: number;
  /** Requests the server refused, and the last refusal. */
  readonly errors: number;
  readonly lastError: string;
  /** Called for each chat message delivered to this connection. */
  onChat: ChatListener | null;
  /** Called whenever `unacked` went down. */
  onAck: (() => void) | null;
  /** Sends a chat message: `target` is the group or user ("" for public). */
  send(kind: ChatKind, target: string, body: string): void;
  /** Registers the name, for connections opened without registering. */
  register(): Promise<void>;
  /** Creates the group, or joins it if it exists. */
  join(group: string): Promise<void>;
  /** Accepts every file offered to this connection, keeping nothing. */
  acceptFiles(): void;
  sendFile(
    target: FileTarget,
    size: number,
    chunk: Uint8Array,
    sha256: string,
  ): Promise<FileOutcome>;
  /** Says goodbye and closes (bounded in time). */
  close(): Promise<void>;
  /** Cuts the connection at once. */
  abort(): void;
  /** Resolves when the connection is gone, whoever ended it. */
  readonly ended: Promise<void>;
}

export interface Target {
  /** Opens a connection (handshake included); registers `name` if asked. */
  connect(name: string, register: boolean): Promise<BenchConn>;
}

/** Runs `task` over `items`, at most `concurrency` at a time. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, worker),
  );
}

/** Polls `done` every few ms until it holds or `timeoutMs` passes. */
export async function until(
  done: () => boolean,
  timeoutMs: number,
  pollMs = 5,
): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (!done()) {
    if (now() >= deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

const decoder = new TextDecoder();

/** The send time carried in a latency message's body. */
export function stampOf(
  source: Uint8Array | string,
  start: number,
  end: number,
): number {
  return parseFloat(
    typeof source === "string"
      ? source.slice(start, end)
      : decoder.decode(source.subarray(start, end)),
  );
}

interface ConnectArgs {
  names: string[];
  register: boolean;
  concurrency: number;
}

interface FanoutArgs {
  senders: string[];
  window: number;
  body: string;
  startAt: number;
  warmupMs: number;
  durationMs: number;
  drainMs: number;
  /** The step ends once nothing arrived for this long. */
  quietMs: number;
}

interface LatencyArgs {
  mode: ChatKind;
  senders: string[];
  ratePerSecond: number;
  startAt: number;
  /**
   * When this process's first message goes out after `startAt`: the load
   * processes interleave their schedules so that the total rate is evenly
   * spaced rather than every process sending at the same instants.
   */
  offsetMs: number;
  durationMs: number;
  drainMs: number;
  quietMs: number;
  /** For private messages: everyone who may be written to. */
  everyone: string[];
  /** For group messages: each sender's group. */
  groupOf: Record<string, string>;
}

interface FileSendArgs {
  from: string;
  target: FileTarget;
  size: number;
  chunkBytes: number;
}

/** The commands a load process answers (see bench/_ipc.ts). */
export function loadCommands(target: Target): Record<string, Handler> {
  const conns = new Map<string, BenchConn>();
  const reconnected = new Map<string, number>();
  const armed = new Set<string>();
  let reconnectAttempts = 0;
  let reconnectError = "";
  let rearming = true;
  const chunks = new Map<string, { chunk: Uint8Array; sha256: string }>();

  const get = (name: string) => {
    const conn = conns.get(name);
    if (conn === undefined) throw new Error(`No connection named ${name}`);
    return conn;
  };

  /** Delivery counting for the whole process, swapped per scenario. */
  const listen = (
    handler: ChatListener | null,
  ) => {
    for (const conn of conns.values()) conn.onChat = handler;
  };

  return {
    clock: () => Promise.resolve(now()),

    async connect(args: ConnectArgs) {
      const startedAt = now();
      let connected = 0;
      let failed = 0;
      let firstError = "";
      let finishedAt = startedAt;
      await pool(args.names, args.concurrency, async (name) => {
        try {
          const conn = await target.connect(name, args.register);
          conns.set(name, conn);
          connected++;
          finishedAt = Math.max(finishedAt, now());
        } catch (error) {
          failed++;
          firstError ||= messageOf(error);
        }
      });
      return { connected, failed, firstError, startedAt, finishedAt };
    },

    async register(args: { concurrency: number }) {
      const startedAt = now();
      let failed = 0;
      let firstError = "";
      await pool([...conns.values()], args.concurrency, async (conn) => {
        try {
          await conn.register();
        } catch (error) {
          failed++;
          firstError ||= messageOf(error);
        }
      });
      return { startedAt, finishedAt: now(), failed, firstError };
    },

    async join(args: { pairs: [string, string][] }) {
      await Promise.all(
        args.pairs.map(([name, group]) => get(name).join(group)),
      );
      return { joined: args.pairs.length };
    },

    async fanout(args: FanoutArgs) {
      const windowEnd = args.startAt + args.durationMs;
      let delivered = 0;
      let deliveredTotal = 0;
      // Read the clock once a millisecond, not once per delivery: at a
      // million deliveries a second the clock calls alone cost 6% of a load
      // process. The window's edges move by at most 1 ms of 10 s.
      let clock = now();
      const ticker = setInterval(() => (clock = now()), 1);
      let lastDelivery = clock;
      listen((kind) => {
        if (kind !== "public") return;
        deliveredTotal++;
        const t = clock;
        lastDelivery = t;
        if (t >= args.startAt && t < windowEnd) delivered++;
      });
      const senders = args.senders.map(get);
      let sending = true;
      let sent = 0;
      let sentInWindow = 0;
      await sleepUntil(args.startAt - args.warmupMs);
      for (const sender of senders) {
        const pump = () => {
          while (sending && sender.unacked < args.window) {
            sender.send("public", "", args.body);
            sent++;
            const t = now();
            if (t >= args.startAt && t < windowEnd) sentInWindow++;
          }
        };
        sender.onAck = pump;
        pump();
      }
      await sleepUntil(windowEnd);
      sending = false;
      // One deadline for both waits: the orchestrator's own for this reply
      // allows drainMs once (two waits of drainMs each outlasted it, and a
      // flooded cell then looked like a load process that stopped answering).
      const drainEnd = now() + args.drainMs;
      const drained = await until(
        () => senders.every((s) => s.unacked === 0),
        args.drainMs,
      );
      await until(
        () => now() - lastDelivery > args.quietMs,
        Math.max(0, drainEnd - now()),
      );
      for (const sender of senders) sender.onAck = null;
      listen(null);
      clearInterval(ticker);
      return {
        delivered,
        deliveredTotal,
        sent,
        sentInWindow,
        drained,
        errors: senders.reduce((n, s) => n + s.errors, 0),
        lastError: senders.find((s) => s.lastError)?.lastError ?? "",
      };
    },

    async latency(args: LatencyArgs) {
      const end = args.startAt + args.durationMs;
      const samples: number[] = [];
      const spans = new SpanRecorder();
      let lastDelivery = now();
      listen((kind, source, start, stop) => {
        if (kind !== args.mode) return;
        const t = now();
        lastDelivery = t;
        const sentAt = stampOf(source, start, stop);
        if (sentAt >= args.startAt && sentAt < end) {
          samples.push(t - sentAt);
          spans.add(sentAt, t - sentAt);
        }
      });
      const senders = args.senders.map(get);
      const interval = 1000 / args.ratePerSecond;
      const first = args.startAt + args.offsetMs;
      let i = 0;
      schedule: while (first + i * interval < end) {
        await sleepUntil(first + i * interval);
        // A late timer sends everything that is due, each stamped when sent.
        while (first + i * interval <= now() && first + i * interval < end) {
          // Receivers keep only messages stamped before `end`, so one the
          // late timer would stamp at or after it is not sent: sent and
          // counted, it came back as a whole fan-out of "missing" deliveries
          // (5 x 99 in one run on a loaded machine). Compared as the
          // receivers read it: the text, parsed.
          const stamp = now().toFixed(3);
          if (parseFloat(stamp) >= end) break schedule;
          const sender = senders[i % senders.length]!;
          let to = "";
          if (args.mode === "group") to = args.groupOf[sender.name]!;
          if (args.mode === "private") {
            do {
              to = args.everyone[
                Math.floor(Math.random() * args.everyone.length)
              ]!;
            } while (to === sender.name);
          }
          sender.send(args.mode, to, stamp);
          i++;
        }
      }
      await until(() => now() - lastDelivery > args.quietMs, args.drainMs);
      listen(null);
      return {
        sent: i,
        samples: samples.map((s) => Math.round(s * 1000) / 1000),
        spans: spans.spans(),
        errors: senders.reduce((n, s) => n + s.errors, 0),
        lastError: senders.find((s) => s.lastError)?.lastError ?? "",
      };
    },

    file_arm(args: { names: string[] }) {
      for (const name of args.names) get(name).acceptFiles();
      return Promise.resolve({ armed: args.names.length });
    },

    async file_send(args: FileSendArgs) {
      const key = `${args.size}/${args.chunkBytes}`;
      let prepared = chunks.get(key);
      if (prepared === undefined) {
        const chunk = new Uint8Array(args.chunkBytes);
        for (let i = 0; i < chunk.length; i += 65536) {
          crypto.getRandomValues(chunk.subarray(i, i + 65536));
        }
        prepared = { chunk, sha256: await sha256OfRepeated(chunk, args.size) };
        chunks.set(key, prepared);
      }
      const startedAt = now();
      const outcome = await get(args.from).sendFile(
        args.target,
        args.size,
        prepared.chunk,
        prepared.sha256,
      );
      return { ...outcome, startedAt, finishedAt: now() };
    },

    arm_reconnect(args: { retryMs: number; timeoutMs: number }) {
      reconnected.clear();
      armed.clear();
      rearming = true;
      for (const [name, conn] of conns) {
        armed.add(name);
        conn.ended.then(async () => {
          const deadline = now() + args.timeoutMs;
          while (rearming && now() < deadline) {
            reconnectAttempts++;
            try {
              const fresh = await target.connect(name, true);
              conns.set(name, fresh);
              reconnected.set(name, now());
              return;
            } catch (error) {
              reconnectError = messageOf(error);
              // Spread the retries like a real client's jittered backoff.
              await sleep(args.retryMs * (0.5 + Math.random()));
            }
          }
        });
      }
      return Promise.resolve({ armed: armed.size });
    },

    async await_reconnect(args: { timeoutMs: number }) {
      await until(() => reconnected.size >= armed.size, args.timeoutMs, 10);
      rearming = false;
      const times = [...reconnected.values()];
      return {
        armed: armed.size,
        reconnected: reconnected.size,
        firstAt: times.length ? Math.min(...times) : NaN,
        lastAt: times.length ? Math.max(...times) : NaN,
        attempts: reconnectAttempts,
        lastError: reconnectError,
      };
    },

    async close(args: { timeoutMs: number; abort?: boolean }) {
      const all = [...conns.values()];
      conns.clear();
      if (args.abort) { for (const conn of all) conn.abort(); }
      let closed = 0;
      await Promise.race([
        pool(all, 256, async (conn) => {
          if (args.abort) await conn.ended;
          else await conn.close();
          closed++;
        }),
        sleep(args.timeoutMs),
      ]);
      for (const conn of all) conn.abort();
      return { closed, total: all.length };
    },

    memory: () => Promise.resolve(Deno.memoryUsage()),
  };
}

/** SHA-256 of `size` bytes made of `chunk` repeated, as the sender sends them. */
async function sha256OfRepeated(
  chunk: Uint8Array,
  size: number,
): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  for (let sent = 0; sent < size; sent += chunk.length) {
    hash.update(chunk.subarray(0, Math.min(chunk.length, size - sent)));
  }
  return hash.digest("hex");
}
