/**
 * The server's wiring: the edge (ws_edge.ts) -> `Connection` -> handshake ->
 * SecureChannel -> router. The router decides; this file only delivers.
 */

import { fingerprint } from "../crypto/keys.ts";
import {
  encodeCompactChat,
  encodeHeader,
  encodeMessage,
  parseClientMessage,
} from "../protocol/codec.ts";
import type { ClientMessage, ServerMessage } from "../protocol/messages.ts";
import type { Store } from "../store/store.ts";
import { CloseCode } from "../transport/connection.ts";
import {
  acceptChannel,
  ChannelError,
  messageOf,
  type SecureChannel,
  SharedBytes,
} from "../transport/secure_channel.ts";
import { connect, disconnect, type Outbound, route } from "./router.ts";
import { expireAnswers } from "./transfers.ts";
import {
  AdmissionPolicy,
  TOO_MANY_NEW,
  TOO_MANY_UNFINISHED,
} from "./admission.ts";
import { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from "./config.ts";
import {
  type IdentityBindings,
  IdentityGate,
  MemoryBindings,
  StoreBindings,
} from "./identity_gate.ts";
import { LogLimiter } from "./log_limiter.ts";
import { GroupBacklog } from "./group_backlog.ts";
import { HeldAcks } from "./held_acks.ts";
import { QueueGauge } from "./backpressure.ts";
import { KeyedTokenBuckets, TokenBucket } from "./rate_limit.ts";
import { Semaphore } from "./semaphore.ts";
import { type ConnId, type ServerLimits, ServerState } from "./state.ts";
import { type EdgeConnection, startEdge } from "./ws_edge.ts";

export interface ServerOptions {
  hostname: string;
  port: number;
  privateKey: CryptoKey;
  publicSpki: Uint8Array;
  /** Overrides of the connection limits (see config.ts for the defaults). */
  connectionLimits?: Partial<ConnectionLimits>;
  /** Overrides of the room's limits: groups, members, files. */
  limits?: Partial<ServerLimits>;
  /**
   * Where groups, messages, users and identity bindings are kept. Without
   * one the server forgets everything when it stops.
   */
  store?: Store;
  /** Where operational log lines go (default: stdout with a timestamp). */
  log?: (line: string) => void;
}

export interface RunningServer {
  readonly hostname: string;
  readonly port: number;
  readonly fingerprint: string;
  /** TCP connections still open, upgraded or not, handshake or not. */
  readonly connectionCount: number;
  /**
   * Bytes queued for recipients now, all together (backpressure.ts), and
   * the most ever queued at once: what limits.maxQueuedBytes bounds.
   */
  readonly queuedBytes: number;
  readonly peakQueuedBytes: number;
  /** Tells every client, closes every connection, stops listening. */
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}

const NOT_READING = "you are not reading your messages fast enough";

/**
 * An address's queued bytes are summed each time one of its connections'
 * backlog grows by this part of the budget (group_backlog.ts): 64 MiB / 256
 * = 256 KiB, so 64 connections pass the budget by 16 MiB at most.
 */
const BACKLOG_STEPS = 256;
const MIN_BACKLOG_STEP_BYTES = 16 * 1024;

/**
 * Messages of one frame routed (in one transaction) before what is queued
 * for recipients is looked at again: a frame of a thousand messages to a
 * room of a hundred must not be queued whole while senders are held back.
 * Each sender may pass maxQueuedBytes by one run: with 99 senders flooding a
 * room of 100 with 100-byte messages, 32 let the queues reach 1.5 times the
 * bound; a commit every 8 messages costs little (the sync is shared).
 */
const RUN_STEPS = 8;

/** How long shutdown waits for peers to acknowledge the close. */
const SHUTDOWN_GRACE_MS = 2000;

function isChat({ message }: Outbound): boolean {
  return message.t === "public" || message.t === "private" ||
    message.t === "group";
}

/** A point in a connection's queue held until writes are durable. */
interface Gate {
  open: boolean;
}

/** One thing to do for a message of a batch, in order. */
type Step = { message: ClientMessage; body: Uint8Array } | {
  reply: ServerMessage;
};

/** Error codes that mean a limit was reached: worth a line in the log. */
const LOGGED_REFUSALS: ReadonlySet<string> = new Set([
  "too_long",
  "limit",
  "too_large",
]);

/** Messages that are flow-controlled by the file window, not the rate limit. */
const FILE_DATA = new Set(["file_chunk", "file_ack", "file_end", "file_done"]);

/** Replies whose header can be large (lists of names): measured, not guessed. */
const LIST_REPLIES = new Set(["users", "groups", "members"]);

/** What a run routed, and whether it stopped at its sender's backlog limit. */
interface Routed {
  out: Outbound[];
  /** Steps were left unrouted: what is queued for the sender passed the limit. */
  full: boolean;
}

export async function startServer(
  options: ServerOptions,
): Promise<RunningServer> {
  const log = options.log ?? defaultLog;
  const limits: ConnectionLimits = {
    ...DEFAULT_CONNECTION_LIMITS,
    ...options.connectionLimits,
  };
  const refusals = new LogLimiter(log);
  const store = options.store ?? null;
  const state = new ServerState(options.limits, store);
  const identities: IdentityBindings = store === null
    ? new MemoryBindings()
    : new StoreBindings(store);
  // Transfers cut short by the last stop are recorded as such.
  store?.interruptTransfers(Date.now());

  /**
   * Routes a run of messages from one connection with all their writes in one
   * transaction, committed before anything is sent (and synced before the
   * sender's replies go, see deliverRun): what a reply confirms is on disk.
   * One transaction per run, not per message, because a commit costs more
   * than routing a message. Routing stops once what is queued for the sender
   * passes maxBacklogBytes: a frame of requests whose replies are big (40
   * `history` of 256 KiB each) must not be built whole before that is seen.
   */
  function routeRun(id: ConnId, steps: readonly Step[]): Routed {
    const now = Date.now();
    const run = (): Routed => {
      const out: Outbound[] = [];
      let queued = queuedFor(id);
      for (const step of steps) {
        const routed: Outbound[] = "reply" in step
          ? [{ to: [id], message: step.reply }]
          : route(state, id, step.message, step.body, now);
        for (const one of routed) {
          out.push(one);
          if (one.to.length === 1 ? one.to[0] === id : one.to.includes(id)) {
            queued += roughSize(one);
          }
        }
        if (queued > limits.maxBacklogBytes) return { out, full: true };
      }
      return { out, full: false };
    };
    const logged = () => {
      const routed = run();
      noteRefusals(id, routed.out);
      return routed;
    };
    if (store === null) return logged();
    try {
      return store.transaction(logged);
    } catch (error) {
      // Details stay in the log; the user only learns that it failed.
      log(`store failed: ${messageOf(error)}`);
      const out = steps.flatMap((step): Outbound[] =>
        "reply" in step || !("id" in step.message) ? [] : [{
          to: [id],
          message: {
            t: "error",
            re: step.message.id,
            code: "internal",
            text: "ERROR: The server could not save that; try again",
          },
        }]
      );
      return { out, full: false };
    }
  }

  /** Bytes of replies waiting for the disk, per connection (deliverRun). */
  const heldBytes = new Map<ConnId, number>();

  /** Bytes queued for `id`: in its channel, and waiting for the disk. */
  function queuedFor(id: ConnId): number {
    return (channels.get(id)?.backlog ?? 0) + (heldBytes.get(id) ?? 0);
  }

  const channels = new Map<ConnId, SecureChannel>();
  const conns = new Set<EdgeConnection>();
  const gauge = new QueueGauge(
    limits.maxQueuedBytes,
    Math.floor(limits.maxQueuedBytes / 2),
  );
  // Held back by recipients that do not drain, senders wait no longer than
  // queueStallMs: then the recipient with the most queued is cut off.
  let stall: ReturnType<typeof setTimeout> | undefined;
  gauge.onChange((held) => {
    clearTimeout(stall);
    stall = undefined;
    if (held) {
      refusals.log(
        "queued",
        `${gauge.bytes} bytes queued for recipients, over ${limits.maxQueuedBytes}: not reading senders until half of it is written`,
      );
      stall = setTimeout(cutOffSlowest, limits.queueStallMs);
    }
  });

  function cutOffSlowest(): void {
    stall = undefined;
    if (!gauge.held) return;
    let slowest: [ConnId, SecureChannel] | null = null;
    let most = -1;
    for (const [id, channel] of channels) {
      const backlog = channel.backlog;
      if (backlog > most) [slowest, most] = [[id, channel], backlog];
    }
    if (slowest !== null) {
      refusals.log(
        "queued-stall",
        `recipients held senders back for ${limits.queueStallMs} ms: cutting off the one with the most queued (${most} bytes)`,
      );
      dismiss(slowest[0], slowest[1], NOT_READING);
    }
    if (gauge.held) stall = setTimeout(cutOffSlowest, limits.queueStallMs);
  }
  const admission = new AdmissionPolicy(limits);
  const decrypts = new Semaphore(limits.maxDecryptsInFlight);
  // What all the connections of one address may send and have queued
  // together: otherwise each connection it may open multiplies its limits.
  const addressBuckets = new KeyedTokenBuckets(
    limits.messagesPerSecondPerAddress,
    limits.messageBurstPerAddress,
  );
  const addressBacklogs = new GroupBacklog<ConnId>(
    limits.maxBacklogBytesPerAddress,
    Math.max(
      MIN_BACKLOG_STEP_BYTES,
      Math.ceil(limits.maxBacklogBytesPerAddress / BACKLOG_STEPS),
    ),
  );
  /** When each connection last sent us anything. */
  const lastHeard = new Map<ConnId, number>();
  let nextId = 1;
  let stopping = false;

  // Connections that must register by a deadline. One timer for all of
  // them, not one per connection: a timer costs about 1 KiB, which is 10 MiB
  // at 10,000 idle connections. Deadlines are now + a constant, so the map's
  // insertion order is deadline order.
  const registrationDeadlines = new Map<ConnId, number>();
  let registrationSweep: ReturnType<typeof setTimeout> | undefined;

  function scheduleRegistrationSweep(): void {
    if (registrationSweep !== undefined) return;
    const first = registrationDeadlines.values().next();
    if (first.done) return;
    registrationSweep = setTimeout(
      sweepRegistrations,
      Math.max(0, first.value - Date.now()),
    );
  }

  function stopRegistrationSweep(): void {
    clearTimeout(registrationSweep);
    registrationSweep = undefined;
  }

  function sweepRegistrations(): void {
    registrationSweep = undefined;
    const now = Date.now();
    for (const [id, deadline] of registrationDeadlines) {
      if (deadline > now) break;
      registrationDeadlines.delete(id);
      const channel = channels.get(id);
      if (channel !== undefined && state.nameOf(id) === null) {
        dismiss(id, channel, "no username was registered in time");
      }
    }
    scheduleRegistrationSweep();
  }

  // File offers wait for their recipients' answers until a deadline; one
  // timer for the earliest of them.
  let answerSweep: ReturnType<typeof setTimeout> | undefined;

  function scheduleAnswerSweep(): void {
    if (answerSweep !== undefined || stopping) return;
    const next = state.transfers.nextAnswerDeadline();
    if (next === null) return;
    answerSweep = setTimeout(() => {
      answerSweep = undefined;
      const now = Date.now();
      try {
        deliver(
          store === null
            ? expireAnswers(state, now)
            : store.transaction(() => expireAnswers(state, now)),
        );
      } catch (error) {
        log(`store failed: ${messageOf(error)}`);
      }
      scheduleAnswerSweep();
    }, Math.max(0, next - Date.now()));
  }

  /**
   * `encode`'s result, or null (logged) if it throws: a bug, not the
   * recipients' fault, so their connections stay (and a failed compact form
   * falls back to JSON).
   */
  function encodedOrNull(
    message: ServerMessage,
    form: string,
    encode: () => Uint8Array | null,
  ): Uint8Array | null {
    try {
      return encode();
    } catch (error) {
      log(
        `could not encode a '${message.t}' message${form}: ${messageOf(error)}`,
      );
      return null;
    }
  }

  const encodeCompact = (
    message: ServerMessage,
    body?: Uint8Array,
    position = false,
  ) =>
    encodedOrNull(
      message,
      " compactly",
      () => encodeCompactChat(message, body, position),
    );
  const encodeJson = (message: ServerMessage, body?: Uint8Array) =>
    encodedOrNull(message, "", () => encodeMessage(message, body));

  /**
   * Connections with chat messages waiting for the disk (deliverRun), and
   * what comes for them meanwhile, in order: a gate is passed once its
   * writes are durable. Whatever else is sent to such a connection queues
   * behind, so that it gets its chat messages in the order they were routed
   * (the missed ones after a welcome before the next live one).
   */
  const waiting = new Map<ConnId, (Uint8Array | SharedBytes | Gate)[]>();
  /**
   * Bodies that came in bulk frames and are being routed: passed on as they
   * are, where a body inside a batch is copied (the batch is freed once
   * routed).
   */
  const outsideBodies = new WeakSet<Uint8Array>();

  function passGate(id: ConnId, gate: Gate): void {
    gate.open = true;
    const queue = waiting.get(id);
    if (queue === undefined) return;
    const channel = channels.get(id);
    let sent = 0;
    for (; sent < queue.length; sent++) {
      const item = queue[sent]!;
      if (item instanceof Uint8Array) channel?.sendEncoded(item);
      else if (item instanceof SharedBytes) channel?.sendBulk(item);
      else if (!item.open) break;
    }
    queue.splice(0, sent);
    if (queue.length === 0) waiting.delete(id);
  }

  /**
   * Sends `outbound`, behind what waits for the disk for each recipient;
   * `direct` skips that queue (for replies routed before anything in it).
   */
  function deliver(outbound: readonly Outbound[], direct = false): void {
    for (const { to, message, body } of outbound) {
      // Encoded once per form, whatever the number of recipients: compact for
      // a live chat message to those who asked for it (with its id and seq
      // to those that acknowledge), JSON for the rest (made when first
      // needed: in a busy room, often never).
      // File data yields to chat, and is freed as soon as every recipient's
      // channel has sealed it (a recipient that is gone never drops its hold,
      // which only leaves the bytes to the garbage collector). A chunk goes
      // on in a bulk frame: its header sealed per recipient, its body (sealed
      // by the sender with the file key) as it came.
      if (message.t === "file_chunk" && body !== undefined) {
        const header = encodedOrNull(message, "", () => encodeHeader(message));
        if (header === null) continue;
        // A body that came inside a batch is freed with it (recycle).
        const payload = outsideBodies.has(body) ? body : body.slice();
        const shared = new SharedBytes(header, to.length, payload);
        for (const id of to) {
          const channel = channels.get(id);
          if (channel === undefined) continue;
          const queue = !direct && waiting.size > 0
            ? waiting.get(id)
            : undefined;
          if (queue !== undefined) queue.push(shared);
          else channel.sendBulk(shared);
          checkBacklog(id, channel);
        }
        continue;
      }
      const compact = encodeCompact(message, body);
      let positioned: Uint8Array | null | undefined;
      let json: Uint8Array | null | undefined;
      if (compact === null) {
        json = encodeJson(message, body);
        if (json === null) continue;
      }
      const shared = json != null && message.t === "file_end"
        ? new SharedBytes(json, to.length)
        : null;
      const queued = !direct && waiting.size > 0;
      for (const id of to) {
        const channel = channels.get(id);
        if (channel === undefined) continue;
        let bytes: Uint8Array | null;
        if (compact !== null && channel.readsCompactChat) {
          bytes = channel.readsChatPositions
            ? (positioned ??= encodeCompact(message, body, true) ?? compact)
            : compact;
        } else {
          if (json === undefined) json = encodeJson(message, body);
          bytes = json;
        }
        if (bytes === null) continue;
        const queue = queued ? waiting.get(id) : undefined;
        if (queue !== undefined) queue.push(bytes);
        else if (shared !== null) channel.sendBulk(shared);
        else channel.sendEncoded(bytes);
        checkBacklog(id, channel);
      }
    }
  }

  /** A client that does not read must not grow our memory without bound. */
  function checkBacklog(id: ConnId, channel: SecureChannel): void {
    const estimate = channel.backlogEstimate;
    if (
      estimate > limits.maxBacklogBytes &&
      channel.backlog > limits.maxBacklogBytes
    ) {
      dismiss(id, channel, NOT_READING);
    } else if (addressBacklogs.crossed(id, estimate)) {
      checkAddressBacklog(id);
    }
  }

  /**
   * Sends what a run from `id` produced. What goes back to `id` (the replies
   * that confirm its writes) waits until those writes are on disk (see
   * Store.durable); everyone else gets theirs now, so no one waits for the
   * disk but the sender.
   */
  function deliverRun(
    id: ConnId,
    outbound: Outbound[],
    frame?: ArrayBufferLike,
  ): void {
    scheduleAnswerSweep();
    const durable = store?.durable() ?? null;
    if (durable === null) return deliver(outbound);
    const now: Outbound[] = [];
    const held: Outbound[] = [];
    for (const out of outbound) {
      if (!out.to.includes(id)) {
        now.push(out);
        continue;
      }
      if (out.to.length > 1) {
        now.push({ ...out, to: out.to.filter((to) => to !== id) });
      }
      // A body that is a view of the received frame, which is freed once
      // the batch is routed (recycle), is copied to wait; one from the store
      // (history) is not.
      held.push({
        ...out,
        to: [id],
        ...(out.body?.buffer === frame && out.body !== undefined
          ? { body: out.body.slice() }
          : {}),
      });
    }
    deliver(now);
    if (held.length === 0) return;
    // Counted toward the sender's backlog until the disk lets them go
    // (routeRun stops a run that would take it past the limit).
    const bytes = held.reduce((n, out) => n + roughSize(out), 0);
    heldBytes.set(id, (heldBytes.get(id) ?? 0) + bytes);
    const release = () => {
      const left = (heldBytes.get(id) ?? bytes) - bytes;
      if (left > 0) heldBytes.set(id, left);
      else heldBytes.delete(id);
    };
    const queue = waiting.get(id);
    if (queue === undefined && !held.some(isChat)) {
      // Replies only (the usual `ok` to a `say`): nothing newer for `id`
      // need wait for them, and nothing older waits (no queue), so they go
      // straight out once synced, past any queue made meanwhile.
      durable.then(() => {
        release();
        deliver(held, true);
      });
      return;
    }
    // Chat messages (the missed ones after a welcome, a history): what
    // comes for `id` from now on queues behind them, behind a gate.
    const gate: Gate = { open: false };
    if (queue === undefined) waiting.set(id, [gate]);
    else queue.push(gate);
    deliver(held);
    durable.then(() => {
      release();
      passGate(id, gate);
    });
  }

  /**
   * Cuts off the connection with the most queued in `id`'s address group if
   * the group's total passed its budget: the rest of the group keeps going.
   */
  function checkAddressBacklog(id: ConnId): void {
    const over = addressBacklogs.over(id, queuedFor);
    if (over === null) return;
    const channel = channels.get(over.largest);
    if (channel === undefined) return addressBacklogs.remove(over.largest);
    refusals.log(
      `backlog:${groupOf(id)}`,
      `${
        groupOf(id)
      } has ${over.total} bytes queued for its connections, over its ${limits.maxBacklogBytesPerAddress}: cutting off the one with the most`,
    );
    dismiss(over.largest, channel, NOT_READING);
  }

  /** Refusals at a limit are logged (once per kind and address), like the others. */
  function noteRefusals(id: ConnId, out: readonly Outbound[]): void {
    const channel = channels.get(id);
    if (channel === undefined) return;
    for (const { message } of out) {
      if (message.t === "error" && LOGGED_REFUSALS.has(message.code)) {
        refusals.log(
          `${message.code}:${groupOf(id)}`,
          `refused ${describe(id, channel)}: ${message.text}`,
        );
      }
    }
  }

  /**
   * A connection of a client that does not acknowledge ended without saying
   * goodbye, or was cut off: what was sent to it since it was last heard
   * from may never have been shown, so it waits for the next sign-in (as
   * history; maybe twice, never lost). A client that acknowledges has
   * everything it did not acknowledge wait anyway.
   */
  /** Acknowledgements held per connection (held_acks.ts). */
  const heldAcks = new Map<ConnId, HeldAcks>();
  function heldAcksOf(id: ConnId): HeldAcks {
    let held = heldAcks.get(id);
    if (held === undefined) heldAcks.set(id, held = new HeldAcks());
    return held;
  }
  function takeHeldAcks(id: ConnId): Step[] {
    const held = heldAcks.get(id);
    if (held === undefined) return [];
    heldAcks.delete(id);
    return held.take().map((cursors) => ({
      message: { t: "ack", cursors },
      body: new Uint8Array(0),
    }));
  }
  /** Applies what a connection that is ending held back, while it is registered. */
  function applyHeldAcks(id: ConnId): void {
    const steps = takeHeldAcks(id);
    if (steps.length === 0 || state.session(id) === undefined) return;
    try {
      routeRun(id, steps);
    } catch (error) {
      log(`store failed: ${messageOf(error)}`);
    }
  }

  function requeueUnconfirmed(id: ConnId): void {
    const session = state.session(id);
    const since = lastHeard.get(id);
    if (
      store === null || session === undefined || since === undefined ||
      session.acks
    ) return;
    try {
      store.requeueSince(session.nameKey, since);
    } catch (error) {
      log(`store failed: ${messageOf(error)}`);
    }
  }

  /** Ends a connection for breaking a rule: an encrypted goodbye, then close. */
  function dismiss(
    id: ConnId,
    channel: SecureChannel,
    why: string,
    reason: "violation" | "replaced" = "violation",
  ): void {
    if (!channels.has(id)) return;
    applyHeldAcks(id);
    requeueUnconfirmed(id);
    channels.delete(id);
    addressBacklogs.remove(id);
    waiting.delete(id);
    refusals.log(
      `dismiss:${groupOf(id)}`,
      `disconnecting ${describe(id, channel)}: ${why}`,
    );
    channel.send({
      t: "bye",
      reason,
      text: `Disconnected by the server: ${why}.`,
    });
    channel.drain().then(() =>
      channel.close(CloseCode.policyViolation, reason)
    );
    deliver(disconnect(state, id, Date.now()));
  }

  /**
   * Each connection's address group (address_group.ts): the log's limiter
   * keys by it, not by "ip:port", or every new connection is a new key.
   */
  const groups = new Map<ConnId, string>();
  const groupOf = (id: ConnId) => groups.get(id) ?? "";

  async function serveConnection(
    conn: EdgeConnection,
    group: string,
  ): Promise<void> {
    let channel: SecureChannel;
    try {
      channel = await acceptChannel(conn, {
        privateKey: options.privateKey,
        publicSpki: options.publicSpki,
        timeoutMs: limits.handshakeTimeoutMs,
        limitDecrypt: (decrypt) => decrypts.run(decrypt),
        queued: gauge,
      });
      conn.handshakeDone();
    } catch (error) {
      refusals.log(
        `handshake:${group}`,
        `handshake with ${conn.remoteAddress} failed: ${messageOf(error)}`,
      );
      return;
    }
    if (stopping) {
      channel.close(CloseCode.goingAway, "server is shutting down");
      return;
    }
    const id = nextId++;
    channels.set(id, channel);
    groups.set(id, group);
    addressBacklogs.add(id, group);
    connect(state, id);
    registrationDeadlines.set(id, Date.now() + limits.registerTimeoutMs);
    scheduleRegistrationSweep();
    const gate = new IdentityGate(identities, channel.transcriptHash);
    let said: "goodbye" | null = null;
    lastHeard.set(id, Date.now());
    const bucket = new TokenBucket(
      limits.messagesPerSecond,
      limits.messageBurst,
      Date.now(),
    );
    // A history reply costs the server up to 256 KiB read from the disk and
    // queued: such requests get a small bucket of their own.
    const historyBucket = new TokenBucket(
      limits.historyPerSecond,
      limits.historyBurst,
      Date.now(),
    );
    let strikes = 0;
    try {
      for (;;) {
        // Held back while recipients' queues are over the bound (the edge
        // has stopped reading the socket too).
        if (gauge.held) await gauge.flowing();
        const batch = await channel.receive();
        // Null when the peer closed, or when we dismissed it.
        if (batch === null || !channels.has(id)) break;
        lastHeard.set(id, Date.now());
        let quit = false;
        // Messages to route, and direct replies kept in their order among them.
        let steps: Step[] = [];
        const frame = batch[0]?.body.buffer;
        const flush = () => {
          if (steps.length === 0) return;
          const run = steps;
          steps = [];
          const { out, full } = routeRun(id, run);
          if (!full) return deliverRun(id, out, frame);
          // Others still get what the routed part sent them.
          deliverRun(
            id,
            out.flatMap((one) =>
              one.to.includes(id)
                ? one.to.length === 1
                  ? []
                  : [{ ...one, to: one.to.filter((to) => to !== id) }]
                : [one]
            ),
            frame,
          );
          dismiss(id, channel, NOT_READING);
        };
        if (batch[0]?.outside === true) outsideBodies.add(batch[0].body);
        for (const { header, body } of batch) {
          if (steps.length >= RUN_STEPS) {
            flush();
            if (gauge.held) await gauge.flowing();
          }
          // Dismissed by one of this batch's own effects: read no further.
          if (!channels.has(id)) break;
          let message;
          try {
            message = parseClientMessage(header);
          } catch (error) {
            steps.push({
              reply: {
                t: "error",
                re: requestIdOf(header),
                code: "bad_request",
                text: `ERROR: Bad request: ${messageOf(error)}`,
              },
            });
            continue;
          }
          if (message.t === "bye") {
            quit = true;
            break;
          }
          const now = Date.now();
          // The address's shared bucket is taken from only when the
          // connection's own has a token: a connection held to its own rate
          // does not use up its neighbours'.
          if (
            (!FILE_DATA.has(message.t) &&
              !(bucket.peek(now) && addressBuckets.take(group, now) &&
                bucket.take(now))) ||
            (message.t === "history" && !historyBucket.take(now))
          ) {
            // Held, not refused: it has no reply to refuse, and dropping it
            // would show what it covers again to a fresh client (held_acks.ts).
            if (message.t === "ack") {
              heldAcksOf(id).hold(message.cursors);
              continue;
            }
            if (++strikes >= limits.floodStrikes) {
              flush();
              dismiss(id, channel, "too many messages too fast");
              break;
            }
            refusals.log(
              `flood:${group}`,
              `slowing down ${describe(id, channel)}`,
            );
            steps.push({
              reply: {
                t: "error",
                re: requestIdOf(header),
                code: "slow_down",
                text: "ERROR: slow down",
              },
            });
            continue;
          }
          strikes = 0;
          if (
            (message.t === "register" || message.t === "prove") &&
            state.nameOf(id) === null
          ) {
            // The proof needs async crypto: a transaction must not span it.
            flush();
            // Dismissed by what the flush queued, or while the proof ran: a
            // registration now would leave a session no one serves.
            if (!channels.has(id)) break;
            const result = message.t === "register"
              ? await gate.begin(message)
              : await gate.prove(message);
            if (!channels.has(id)) break;
            if (result.kind === "reply") {
              // Behind any reply of this connection still waiting for the
              // disk, as every reply is.
              deliverRun(id, [{ to: [id], message: result.message }]);
              continue;
            }
            // The same key signing in again (typically a reconnect the server
            // has not noticed the end of yet) takes over the old session.
            const stale = result.fingerprint === null
              ? undefined
              : state.sessionByName(result.register.name);
            const staleChannel = stale && channels.get(stale.id);
            if (stale && staleChannel) {
              dismiss(
                stale.id,
                staleChannel,
                "you signed in from another place",
                "replaced",
              );
            }
            const welcome =
              routeRun(id, [{ message: result.register, body }]).out;
            const name = state.nameOf(id);
            if (name !== null && result.register.compact === true) {
              channel.readsCompactChat = true;
              channel.readsChatPositions = result.register.acks === true;
            }
            if (name !== null && result.fingerprint !== null) {
              // Written before the welcome is sent, so that it waits for
              // this too (deliverRun): a welcome means the name is bound.
              gate.bindIfFree(name, result.fingerprint);
              // Shown with this user's file offers ("always from sophia").
              state.setFingerprint(id, result.fingerprint);
              log(
                `${name} registered from ${conn.remoteAddress} (${result.fingerprint})`,
              );
            }
            deliverRun(id, welcome);
            continue;
          }
          // What was held goes first, with the first ack let through.
          if (message.t === "ack") steps.push(...takeHeldAcks(id));
          steps.push({ message, body });
        }
        flush();
        // Every body passed on was encoded (copied) for its recipients, or
        // copied to wait for the disk (deliverRun): the frame is dead. Not a
        // bulk frame's: its body waits in the recipients' queues, freed once
        // they have all sealed it (SharedBytes).
        if (batch[0]?.outside === true) outsideBodies.delete(batch[0].body);
        else channel.recycle(batch);
        if (quit) {
          said = "goodbye";
          await channel.drain();
          channel.close(CloseCode.normal, "bye");
          break;
        }
      }
    } catch (error) {
      const code = error instanceof ChannelError
        ? error.closeCode
        : CloseCode.protocolError;
      refusals.log(
        `protocol:${group}`,
        `closing ${describe(id, channel)}: ${messageOf(error)}`,
      );
      channel.close(code, "protocol error");
    } finally {
      registrationDeadlines.delete(id);
      if (registrationDeadlines.size === 0) stopRegistrationSweep();
      if (conn.localCloseReason !== null) {
        refusals.log(
          `local:${group}`,
          `closed ${describe(id, channel)}: ${conn.localCloseReason}`,
        );
      }
      const name = state.nameOf(id);
      if (channels.has(id)) {
        applyHeldAcks(id);
        if (said !== "goodbye") requeueUnconfirmed(id);
        channels.delete(id);
        waiting.delete(id);
        deliver(disconnect(state, id, Date.now()));
        if (name !== null) log(`${name} left`);
      }
      lastHeard.delete(id);
      heldAcks.delete(id);
      groups.delete(id);
      addressBacklogs.remove(id);
    }
  }

  function describe(id: ConnId, channel: SecureChannel): string {
    const name = state.nameOf(id);
    return name === null
      ? channel.remoteAddress
      : `${name} (${channel.remoteAddress})`;
  }

  const edge = await startEdge({
    hostname: options.hostname,
    port: options.port,
    maxPayloadBytes: limits.maxPayloadBytes,
    maxHandshakePayloadBytes: limits.maxHandshakePayloadBytes,
    maxUnfinished: limits.maxUnfinished,
    maxUnfinishedPerGroup: limits.maxUnfinishedPerAddress,
    maxMessageFragments: limits.maxMessageFragments,
    closeTimeoutMs: limits.closeTimeoutMs,
    headersTimeoutMs: limits.headersTimeoutMs,
    idleTimeoutSeconds: limits.idleTimeoutSeconds,
    gauge,
    // Room to answer the refused with a 503 before dropping them unanswered.
    maxSockets: limits.maxConnections + limits.maxConnectionsPerAddress,
    maxSocketsPerGroup: 2 * limits.maxConnectionsPerAddress,
    accept: (group, address, unfinished) => {
      const decided = admission.accept(group, Date.now(), unfinished);
      if (decided.kind !== "in") {
        const why = decided.kind === "refuse"
          ? decided.why
          : unfinished
          ? TOO_MANY_UNFINISHED
          : TOO_MANY_NEW;
        refusals.log(
          `admit:${group}`,
          `refused a connection from ${address}: ${why}`,
        );
      }
      return decided;
    },
    admit: (group, address) => {
      const refused = stopping
        ? "the server is shutting down"
        : admission.admit(edge, group);
      if (refused !== null) {
        refusals.log(
          `admit:${group}`,
          `refused a connection from ${address}: ${refused}`,
        );
      }
      return refused;
    },
    onConnection: (conn, group) => {
      conns.add(conn);
      conn.closed.then(() => conns.delete(conn));
      serveConnection(conn, group).catch((error) =>
        log(`internal error: ${messageOf(error)}`)
      );
    },
  });
  const serverFingerprint = await fingerprint(options.publicSpki);

  async function shutdown(): Promise<void> {
    if (stopping) return edge.finished;
    stopping = true;
    // Everyone is read again, to the end: the goodbyes and closes must pass.
    gauge.close();
    const goodbye: ServerMessage = {
      t: "bye",
      reason: "shutdown",
      text: "Server is shutting down.",
    };
    const encoded = encodeMessage(goodbye);
    // Replies still waiting for the disk go out first: a client stops
    // reading at the goodbye, and would count a stored message as not sent.
    // (A few rounds at most: connections may still be writing meanwhile.)
    for (let round = 0; round < 5; round++) {
      const synced = store?.durable();
      if (!synced) break;
      await synced;
    }
    await Promise.all(
      [...channels.values()].map(async (channel) => {
        channel.sendEncoded(encoded);
        await channel.drain();
        channel.close(CloseCode.goingAway, "server is shutting down");
      }),
    );
    for (const conn of conns) {
      conn.close(CloseCode.goingAway, "server is shutting down");
    }
    // A peer that never answers the close frame must not hold the shutdown
    // hostage: after the grace, the edge destroys what is left.
    await withDeadline(
      Promise.all([...conns].map((conn) => conn.closed)),
      SHUTDOWN_GRACE_MS,
    );
    stopRegistrationSweep();
    clearTimeout(answerSweep);
    answerSweep = undefined;
    await edge.close();
  }

  return {
    hostname: edge.hostname,
    port: edge.port,
    fingerprint: serverFingerprint,
    get connectionCount() {
      return edge.socketCount;
    },
    get queuedBytes() {
      return gauge.bytes;
    },
    get peakQueuedBytes() {
      return gauge.peak;
    },
    shutdown,
    finished: edge.finished,
  };
}

/**
 * About the bytes an outbound message costs its recipient's queue: its body,
 * and a header that is small unless it lists names.
 */
function roughSize({ message, body }: Outbound): number {
  return (body?.byteLength ?? 0) +
    (LIST_REPLIES.has(message.t) ? JSON.stringify(message).length : 64);
}

function requestIdOf(header: unknown): number | null {
  if (typeof header === "object" && header !== null && "id" in header) {
    const id = (header as { id: unknown }).id;
    if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) {
      return id;
    }
  }
  return null;
}

async function withDeadline(
  promise: Promise<unknown>,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

function defaultLog(line: string): void {
  const time = new Date().toISOString().replace("T", " ").slice(0, 19);
  console.log(`${time} ${line}`);
}
