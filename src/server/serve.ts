/**
 * The server's wiring: `Connection` -> handshake -> SecureChannel -> the
 * session loop -> router -> delivery (delivery.ts). `createCore` is all of
 * it but the network, and takes any connection (tests use in-memory
 * pairs); `startServer` puts the edge (ws_edge.ts) in front of it. The
 * router decides; this file only carries out.
 */

import { fingerprint } from "../crypto/keys.ts";
import { frameAead } from "../crypto/native_aead.ts";
import { nativeRoomCrypto } from "../crypto/native_room.ts";
import { encodeMessage } from "../protocol/message_framing.ts";
import { parseClientMessage } from "../protocol/parse_client_message.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import type { ClientMessage, ServerMessage } from "../protocol/messages.ts";
import type { Store } from "../store/store.ts";
import { CloseCode } from "../transport/connection.ts";
import { FILE_CHUNK_TAG_BYTES, nameKey } from "../protocol/limits.ts";
import {
  acceptChannel,
  ChannelError,
  messageOf,
  type SecureChannel,
} from "../transport/secure_channel.ts";
import { connect, disconnect, type Outbound, route } from "./router.ts";
import {
  dropRemoteRecipient,
  expireAnswers,
  expireStalled,
  type FileAnswer,
  routeFileAnswer,
} from "./transfers.ts";
import { FileBridge } from "./file_bridge.ts";
import type { BusEvent } from "./cluster/bus_event.ts";
import { reaches, recipients } from "./recipients.ts";
import { RunBudget } from "./run_budget.ts";
import { TurnBatch } from "./turn_batch.ts";
import { WritePath } from "./write_path.ts";
import { Delivery, roughSize } from "./delivery.ts";
import { DeadlineSweep } from "./deadline_sweep.ts";
import {
  type Admission,
  AdmissionPolicy,
  type SocketCounts,
  TOO_MANY_NEW,
  TOO_MANY_UNFINISHED,
} from "./admission.ts";
import { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from "./config.ts";
import {
  type IdentityBindings,
  IdentityGate,
  StoreBindings,
} from "./identity_gate.ts";
import { LogLimiter } from "./log_limiter.ts";
import { GroupBacklog } from "./group_backlog.ts";
import { HeldAcks } from "./held_acks.ts";
import { QueueGauge, StallWatch } from "./backpressure.ts";
import { TurnBudget } from "../transport/turn_budget.ts";
import { RoomFrames, type RoomFramesOptions } from "./room_frames.ts";
import { KeyedTokenBuckets } from "./rate_limit.ts";
import { isFileData, MessageRate } from "./message_rate.ts";
import { Semaphore } from "./semaphore.ts";
import { type ConnId, type ServerLimits, ServerState } from "./state.ts";
import { type EdgeConnection, startEdge } from "./ws_edge.ts";
import { startMemoryTrim } from "./memory_trim.ts";
import { withDeadline } from "../transport/with_deadline.ts";
import { applyLogRecord } from "./log_apply.ts";
import { LogOutbox } from "./log_outbox.ts";
import { LOG_WAIT_MS, SharedLog } from "./shared_log.ts";
import { routeSharedE2eKeys } from "./e2e_keys.ts";
import { applyGroupRecord } from "./remote_groups.ts";
import type { ClusterPort } from "./cluster/port.ts";
import { AddressShares, CountedBuckets, REPORT_MS } from "./address_shares.ts";
import type { PresenceChange } from "./remote_users.ts";

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
   * Where groups, messages, users and identity bindings are kept: an SQLite
   * file, or an in-memory one (`openStore(":memory:")`) that forgets
   * everything when the server stops.
   */
  store: Store;
  /** Where operational log lines go (default: stdout with a timestamp). */
  log?: (line: string) => void;
  /** Serve the web client's page at `/` (default true; `--no-web`: 404). */
  web?: boolean;
  /**
   * The other nodes of a cluster (issue 19, cluster/node.ts); absent for a
   * single node, which then loads and awaits nothing of it.
   */
  cluster?: ClusterPort;
  /**
   * Room frames (docs/PROTOCOL.md 3.8): their primitives, or `true` for
   * startServer to use native_room.ts's (OpenSSL where FFI is granted).
   * Without, or `false` (the default: `chat serve --room-frames` turns them
   * on), every public message is sealed once per recipient. Off by default:
   * they save the server at most the per-member seal and packing of large
   * batches while every member pays a SHA-256 more per frame, and no server
   * saving showed through the noise (bench/BASELINE.md, "Room frames").
   */
  roomFrames?: Omit<RoomFramesOptions, "queued"> | boolean;
  /**
   * Speak TLS too on the same port with this certificate (tls_certificate.ts):
   * the page over https:// and wss:// for browsers on other machines.
   */
  tls?: { cert: string; key: string };
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
  /**
   * The most ever read from connections and not yet routed, all together:
   * what limits.maxUnreadBytes bounds.
   */
  readonly peakUnreadBytes: number;
  /** Tells every client, closes every connection, stops listening. */
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}

const NOT_READING = "you are not reading your messages fast enough";

/** A `register` of a name never seen, past its address's new-name rate. */
export const TOO_MANY_NEW_NAMES =
  "ERROR: Too many new names from your address; try again in a few minutes, or sign in with a name you have used before";

/**
 * An address's queued bytes are summed each time one of its connections'
 * backlog grows by this part of the budget (group_backlog.ts): 64 MiB / 256
 * = 256 KiB, so 64 connections pass the budget by 16 MiB at most.
 */
const BACKLOG_STEPS = 256;
const MIN_BACKLOG_STEP_BYTES = 16 * 1024;

/**
 * The longest the serving loops keep the event loop before they let it
 * poll sockets and run timers (src/transport/turn_budget.ts).
 */
const TURN_BUDGET_MS = 20;

/** How long shutdown waits for peers to acknowledge the close. */
const SHUTDOWN_GRACE_MS = 2000;

/** One thing to do for a message of a batch, in order. */
type Step = { message: ClientMessage; body: Uint8Array } | {
  reply: ServerMessage;
};

/** Requests that store a chat message (their `ok` says it is stored). */
const CHAT_REQUESTS: ReadonlySet<string> = new Set([
  "say",
  "msg",
  "gsay",
  "e2e_msg",
  "e2e_gsay",
]);

/** Error codes that mean a limit was reached: worth a line in the log. */
const LOGGED_REFUSALS: ReadonlySet<string> = new Set([
  "too_long",
  "limit",
  "too_large",
]);

/** What a run routed, and whether it stopped at its sender's backlog limit. */
interface Routed {
  out: Outbound[];
  /** Steps were left unrouted: what is queued for the sender passed the limit. */
  full: boolean;
}

/** What the server needs that is not about the network. */
export type CoreOptions = Omit<ServerOptions, "hostname" | "port">;

/**
 * The server without its network edge: it takes connections (any
 * `EdgeConnection`: the edge's sockets, or an in-memory pair in tests) and
 * runs each from its handshake to its end. startServer is the glue that
 * puts it behind ws_edge.ts.
 */
export interface ServerCore {
  /** The connection limits in force, the defaults with the overrides. */
  readonly limits: Readonly<ConnectionLimits>;
  /** What is queued for recipients (the edge stops reading while held). */
  readonly gauge: QueueGauge;
  /** Whether shutdown has begun. */
  readonly stopping: boolean;
  /** The admission policy's first answer for a socket (ws_edge.ts accept). */
  accept(group: string, address: string, unfinished: boolean): Admission;
  /** Its second, at the upgrade; null lets the connection in (ws_edge.ts admit). */
  admit(group: string, address: string, sockets: SocketCounts): string | null;
  /** Serves one connection from its handshake to its end. */
  serve(conn: EdgeConnection, group: string): void;
  /**
   * Says goodbye to everyone once what waits for the disk is out, closes
   * every connection, and resolves when they are closed or the grace is up.
   */
  stop(): Promise<void>;
}

export function createCore(options: CoreOptions): ServerCore {
  const log = sanitizedLog(options.log ?? defaultLog);
  const limits: ConnectionLimits = {
    ...DEFAULT_CONNECTION_LIMITS,
    ...options.connectionLimits,
  };
  const refusals = new LogLimiter(log);
  const cluster = options.cluster;
  // In a cluster, chat messages and what waits for whom go through the
  // shared log in JetStream (log_outbox.ts, shared_log.ts, log_apply.ts).
  const outbox = cluster === undefined
    ? null
    : new LogOutbox(options.store, cluster.log.id);
  const store: Store = outbox ?? options.store;
  const shared = outbox === null
    ? null
    : new SharedLog(outbox, cluster!.log, log);
  const state = new ServerState(options.limits ?? {}, store);
  const local = new StoreBindings(store);
  // In a cluster a name is bound on all nodes at once (compare-and-set).
  const identities: IdentityBindings = cluster === undefined ? local : {
    fingerprintOf: (key) => local.fingerprintOf(key),
    bind: (name, key, fingerprint) => local.bind(name, key, fingerprint),
    claim: (name, key, fingerprint) =>
      cluster.claimName(name, key, fingerprint),
    async recheck(name, key) {
      const owner = await cluster.nameOwner(key);
      if (owner !== local.fingerprintOf(key)) local.set(name, key, owner);
      return owner;
    },
  };
  // Every write goes through here, one unit of work at a time.
  const writes = new WritePath(store, log);
  // Transfers cut short by the last stop are recorded as such; a store that
  // cannot take that will not take anything else: the start fails.
  writes.commit(() => store.interruptTransfers(Date.now()), (error) => {
    throw error;
  });

  /**
   * Routes a run of messages from one connection with all their writes in one
   * unit of work (a savepoint of the turn's transaction when held to the end
   * of the turn, see turnBatch), committed before anything is sent (and
   * synced before the sender's replies go, see deliverRun): what a reply
   * confirms is on disk. One unit per run, not per message, because a commit
   * costs more than routing a message. Routing stops once what is queued for the sender
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
          if (reaches(state, one.to, id)) {
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
    return writes.commit(logged, () => failedRun(id, steps));
  }

  /**
   * What a run whose writes could not be committed answers: details stay in
   * the log; the user only learns that it failed.
   */
  function failedRun(id: ConnId, steps: readonly Step[]): Routed {
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

  /**
   * On one node, the last run of each frame is held to the end of the turn
   * and routed with the other connections' runs read in it, in one
   * transaction (turn_batch.ts: one commit per turn instead of one per run).
   * A cluster node routes each run at once: it waits for the log per run.
   */
  const turnBatch = cluster === undefined
    ? new TurnBatch(writes, (task) => setImmediate(task), {
      budgetMs: TURN_BUDGET_MS / 2,
    })
    : null;

  /** Bytes queued for `id`: in its channel, and waiting for the disk. */
  const queuedFor = (id: ConnId) => delivery.queuedFor(id);

  const channels = new Map<ConnId, SecureChannel>();
  const conns = new Set<EdgeConnection>();
  const gauge = new QueueGauge(
    limits.maxQueuedBytes,
    Math.floor(limits.maxQueuedBytes / 2),
  );
  const turns = new TurnBudget(TURN_BUDGET_MS);
  // Held back by recipients that do not drain, senders wait no longer than
  // queueStallMs: then the recipient with the most queued among those that
  // took nothing meanwhile is cut off (StallWatch).
  let stall: ReturnType<typeof setTimeout> | undefined;
  const stalls = new StallWatch<ConnId>();
  const backlogs = function* (): Iterable<[ConnId, number]> {
    for (const [id, channel] of channels) yield [id, channel.backlog];
  };
  gauge.onChange((held) => {
    clearTimeout(stall);
    stall = undefined;
    if (held) {
      refusals.log(
        "queued",
        `${gauge.bytes} bytes queued for recipients, over ${limits.maxQueuedBytes}: not reading senders until half of it is written`,
      );
      stalls.start(backlogs());
      stall = setTimeout(cutOffStuck, limits.queueStallMs);
    }
  });

  function cutOffStuck(): void {
    stall = undefined;
    if (!gauge.held) return;
    const stuck = stalls.stuck(backlogs());
    const channel = stuck === null ? undefined : channels.get(stuck);
    if (stuck !== null && channel !== undefined) {
      refusals.log(
        "queued-stall",
        `recipients held senders back for ${limits.queueStallMs} ms: cutting off one that took nothing meanwhile and has the most queued (${channel.backlog} bytes)`,
      );
      dismiss(stuck, channel, NOT_READING);
    }
    if (gauge.held) stall = setTimeout(cutOffStuck, limits.queueStallMs);
  }
  const admission = new AdmissionPolicy(limits);
  const decrypts = new Semaphore(limits.maxDecryptsInFlight);
  // What all the connections of one address may send and have queued
  // together: otherwise each connection it may open multiplies its limits.
  // In a cluster an address's limits hold across the nodes: what it holds
  // and takes here is reported to them every second, and what it takes
  // there is charged here (address_shares.ts).
  const shares = cluster === undefined ? null : new AddressShares();
  const addressBuckets = shares === null
    ? new KeyedTokenBuckets(
      limits.messagesPerSecondPerAddress,
      limits.messageBurstPerAddress,
    )
    : new CountedBuckets(
      limits.messagesPerSecondPerAddress,
      limits.messageBurstPerAddress,
      (group) => shares.tookMessage(group),
    );
  // Each history reply reads and sends up to 256 KiB: an address's
  // connections together ask for a few a second (on this node).
  const historyBuckets = new KeyedTokenBuckets(
    limits.historyPerSecondPerAddress,
    limits.historyBurstPerAddress,
  );
  // Accounts are free, and each may hold store: names never seen before
  // come a few a minute per address (loopback aside: the server's own).
  // On a cluster, what an address took on the other nodes is charged here
  // too (address_shares.ts), as for messages.
  const newNameBuckets = shares === null
    ? new KeyedTokenBuckets(
      limits.newNamesPerMinutePerAddress / 60,
      limits.newNameBurstPerAddress,
    )
    : new CountedBuckets(
      limits.newNamesPerMinutePerAddress / 60,
      limits.newNameBurstPerAddress,
      (group) => shares.tookNewName(group),
    );
  const reporting = shares === null ? undefined : setInterval(() => {
    const connections = new Map<string, number>();
    for (const group of groups.values()) {
      connections.set(group, (connections.get(group) ?? 0) + 1);
    }
    const report = shares.report(connections);
    if (report !== null) cluster!.shareAddresses(report);
  }, REPORT_MS);
  const addressBacklogs = new GroupBacklog<ConnId>(
    limits.maxBacklogBytesPerAddress,
    Math.max(
      MIN_BACKLOG_STEP_BYTES,
      Math.ceil(limits.maxBacklogBytesPerAddress / BACKLOG_STEPS),
    ),
  );
  const delivery = new Delivery({
    state,
    channels,
    // createCore takes made primitives; `true` is startServer's to make.
    ...(typeof options.roomFrames === "object"
      ? { room: new RoomFrames({ ...options.roomFrames, queued: gauge }) }
      : {}),
    durable: () => writes.durable(),
    maxBacklogBytes: limits.maxBacklogBytes,
    cutOff: (id) => {
      const channel = channels.get(id);
      if (channel !== undefined) dismiss(id, channel, NOT_READING);
    },
    grew: (id, estimate) => {
      if (addressBacklogs.crossed(id, estimate)) checkAddressBacklog(id);
    },
    log,
  });
  /** When each connection last sent us anything. */
  const lastHeard = new Map<ConnId, number>();
  let nextId = 1;
  let stopping = false;

  // Connections that must register by a deadline, one timer for them all.
  const registrationDeadlines = new DeadlineSweep<ConnId>((id) => {
    const channel = channels.get(id);
    if (channel !== undefined && state.nameOf(id) === null) {
      dismiss(id, channel, "no username was registered in time");
    }
  });

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
      deliver(writes.commit(() => expireAnswers(state, now), () => []));
      scheduleAnswerSweep();
    }, Math.max(0, next - Date.now()));
  }

  // Recipients that stopped taking a file they accepted, looked for a few
  // times per stall period while transfers run.
  const stallSweep = setInterval(() => {
    if (state.transfers.size === 0 || stopping) return;
    const now = Date.now();
    deliver(writes.commit(() => expireStalled(state, now), () => []));
  }, Math.max(50, Math.min(5000, state.limits.fileStallMs / 4)));

  /** What the cluster's bus needs to know of this node's addresses. */
  const view = {
    remoteRecipient: (id: ConnId) => state.remoteRecipients.get(id),
  };
  /** Files from users on other nodes to users here, renumbered. */
  const bridge = new FileBridge();

  function deliver(outbound: readonly Outbound[]): void {
    delivery.deliver(outbound);
    if (cluster !== undefined) share(outbound);
  }

  /**
   * `routed` once its messages are in the cluster's log (shared_log.ts).
   * Called right after routeRun, before anything else commits.
   */
  async function settle(
    log: SharedLog,
    steps: readonly Step[],
    routed: Routed,
  ): Promise<Routed> {
    const chatRequests = new Set<number>();
    for (const step of steps) {
      if ("message" in step && CHAT_REQUESTS.has(step.message.t)) {
        chatRequests.add((step.message as { id: number }).id);
      }
    }
    return {
      out: await log.settle(routed.out, chatRequests),
      full: routed.full,
    };
  }

  /** What the other nodes are owed of a unit of work committed here. */
  function share(outbound: readonly Outbound[]): void {
    shared!.drain();
    cluster!.publish(outbound, view);
    shareGroupChanges();
  }

  /**
   * Changes to groups committed here, to the groups bucket. Taken before
   * anything else commits: what a record from the cluster changes to match
   * it is taken and dropped after it is applied, and would take these along
   * (a join lost on the other nodes, with its notice).
   */
  function shareGroupChanges(): void {
    const changes = state.takeGroupChanges();
    if (changes.length > 0) cluster!.groupsChanged(changes);
  }

  /** Sends what a run from `id` produced (Delivery.deliverRun). */
  function deliverRun(
    id: ConnId,
    outbound: Outbound[],
    frame?: ArrayBufferLike,
  ): void {
    scheduleAnswerSweep();
    delivery.deliverRun(id, outbound, frame);
    if (cluster !== undefined) share(outbound);
  }

  /**
   * A connection is gone: the room is told, and so are the other nodes
   * when a user was signed in on it.
   */
  function disconnectNow(id: ConnId): void {
    const key = state.session(id)?.nameKey;
    const name = state.session(id)?.name;
    // Files coming from other nodes: their senders' nodes hear it now.
    for (const gone of bridge.dropConnection(id)) {
      if (name !== undefined) {
        cluster?.fileAnswer(gone.node, gone.xfer, name, null);
      }
    }
    deliver(writes.commit(() => disconnect(state, id, Date.now()), () => []));
    if (key !== undefined) cluster?.left(key);
  }

  // What other nodes say: their messages are stored here and sent to this
  // node's users (never published again); their users' comings and goings
  // are told to this node's room unless the user is signed in here too.
  if (cluster !== undefined) state.recordGroupChanges();
  cluster?.attach({
    event(event) {
      if (event.kind === "signed_in") {
        // The same key signed in on another node: as on one server, the
        // newer session takes over (not an older one whose word came late).
        const stale = state.sessionByName(event.from);
        const channel = stale && channels.get(stale.id);
        if (stale && channel && stale.connectedAt < event.ts) {
          dismiss(
            stale.id,
            channel,
            "you signed in from another place",
            "replaced",
          );
        }
        return;
      }
      if (event.kind === "file") return fileFromElsewhere(event);
      if (event.kind === "file_answer") return answerFromElsewhere(event);
      // Messages come through the log (logRecords below), in its order and
      // under its positions; the bus carries none of them any more.
    },
    logFrom: () =>
      Math.max(options.store.lastMessageId(), options.store.logPosition()) +
      1,
    logRecords(records, last) {
      shareGroupChanges();
      const now = Date.now();
      const applyAll = () => {
        const out: Outbound[] = [];
        const delivered: { user: string; id: number }[] = [];
        for (const { seq, record } of records) {
          const one = applyLogRecord(state, options.store, seq, record, now);
          out.push(...one.out);
          delivered.push(...one.delivered);
        }
        options.store.setLogPosition(last);
        return { out, delivered };
      };
      // One unit of work for the batch; if it fails, each record on its
      // own, so that one that cannot be applied costs only itself.
      let applied = writes.commit(applyAll, () => null);
      if (applied === null) {
        applied = { out: [], delivered: [] };
        for (const { seq, record } of records) {
          const one = writes.commit(
            () => applyLogRecord(state, options.store, seq, record, now),
            () => ({ out: [], delivered: [] }),
          );
          applied.out.push(...one.out);
          applied.delivered.push(...one.delivered);
        }
        writes.commit(() => options.store.setLogPosition(last), () => {});
      }
      // A group made to hold a message is not news to the cluster.
      state.takeGroupChanges();
      delivery.deliver(applied.out);
      if (applied.delivered.length > 0) shared!.delivered(applied.delivered);
    },
    group(record, changes) {
      shareGroupChanges();
      delivery.deliver(
        writes.commit(
          () => applyGroupRecord(state, record, Date.now(), changes),
          () => [],
        ),
      );
      // Made to match the cluster: nothing to tell it back.
      state.takeGroupChanges();
    },
    seen(entry, user) {
      announce([state.remote.put(entry, user)]);
    },
    gone(entry) {
      announce([state.remote.delete(entry)]);
    },
    addresses(report) {
      const now = Date.now();
      for (const took of shares!.receive(report, now)) {
        admission.charge(took.group, took.handshakes, now);
        addressBuckets.charge(took.group, took.messages, now);
        newNameBuckets.charge(took.group, took.newNames ?? 0, now);
      }
    },
    nodeGone(node) {
      shares?.nodeGone(node);
      announce(state.remote.dropNode(node));
      // Files from its users stop where they are: resumable, as when a
      // sender here disconnects.
      for (const gone of bridge.dropNode(node)) {
        delivery.deliver([{
          to: [gone.conn],
          message: {
            t: "file_cancel",
            xfer: gone.local,
            reason: "the sender's server went away",
            resumable: true,
          },
        }]);
      }
    },
    sessions: () => state.sessions(),
  });

  /**
   * A transfer run on another node, for a user here: passed on under an id
   * of this node's (file_bridge.ts). An offer for someone no longer here is
   * answered as by someone who left.
   */
  function fileFromElsewhere(event: Extract<BusEvent, { kind: "file" }>) {
    const { message } = event;
    const user = state.sessionByName(event.from);
    if (user === undefined) {
      if (message.t === "file_offer") {
        cluster?.fileAnswer(event.node, message.xfer, event.from, null);
      }
      return;
    }
    let bridged = bridge.fromRemote(event.node, message.xfer, user.id);
    if (message.t === "file_offer") {
      if (bridged !== undefined) return;
      bridged = bridge.open(
        event.node,
        message.xfer,
        user.id,
        state.transfers.reserveId(),
        message.size,
      );
    } else if (bridged === undefined) return;
    const check = message.t === "file_chunk"
      ? bridge.chunk(
        bridged,
        message.offset,
        event.body.byteLength - FILE_CHUNK_TAG_BYTES,
      )
      : message.t === "file_end"
      ? bridge.end(bridged)
      : null;
    if (check?.kind === "after_end") return;
    if (check?.kind === "lost") {
      // Lost on the way (core NATS is at most once): stopped for this user
      // as if their connection broke, so the sender offers it again and it
      // resumes from what they hold.
      log(
        `cluster: a chunk of a file from another node to ${event.from} was lost on the way (${
          message.t === "file_chunk"
            ? `one at ${message.offset} came`
            : "the end came"
        }, expected one at ${check.expected}): stopped, to be resumed`,
      );
      bridge.close(bridged);
      cluster?.fileAnswer(event.node, message.xfer, event.from, null);
      delivery.deliver([{
        to: [user.id],
        message: {
          t: "file_cancel",
          xfer: bridged.local,
          reason: "part of the file was lost between the servers",
          resumable: true,
        },
      }]);
      return;
    }
    if (message.t === "file_cancel") bridge.close(bridged);
    delivery.deliver([{
      to: [user.id],
      message: { ...message, xfer: bridged.local },
      ...(message.t === "file_chunk" ? { body: event.body } : {}),
    }]);
  }

  /** What a recipient on another node says about a transfer run here. */
  function answerFromElsewhere(
    event: Extract<BusEvent, { kind: "file_answer" }>,
  ) {
    const standIn = state.remoteRecipients.byKey(nameKey(event.from));
    if (standIn === undefined) return;
    const party = { id: standIn, name: event.from };
    const { answer } = event;
    const now = Date.now();
    deliver(writes.commit(
      () =>
        answer === null
          ? dropRemoteRecipient(state, event.xfer, party, now)
          : routeFileAnswer(state, party, answer, now),
      () => [],
    ));
    scheduleAnswerSweep();
  }

  /**
   * A user here answers about a transfer run on another node: passed on to
   * that node under its id. False when `xfer` is not such a transfer.
   */
  function answerElsewhere(
    id: ConnId,
    name: string,
    answer: FileAnswer,
  ): boolean {
    const bridged = bridge.fromLocal(answer.xfer, id);
    if (bridged === undefined || cluster === undefined) return false;
    cluster.fileAnswer(bridged.node, bridged.xfer, name, {
      ...answer,
      xfer: bridged.xfer,
    });
    // After these the sender's node sends this user nothing more about it.
    if (
      answer.t === "file_done" || answer.t === "file_cancel" ||
      answer.t === "file_decline"
    ) bridge.close(bridged);
    return true;
  }

  function announce(changes: readonly (PresenceChange | null)[]): void {
    for (const change of changes) {
      if (change !== null && !change.online) dropStandIn(change.name);
      if (change === null || state.isOnline(change.name)) continue;
      delivery.deliver([{
        to: { kind: "room" },
        message: { t: "presence", name: change.name, online: change.online },
      }]);
    }
  }

  /** A user elsewhere who went offline no longer receives files from here. */
  function dropStandIn(name: string): void {
    const standIn = state.remoteRecipients.byKey(nameKey(name));
    if (standIn === undefined) return;
    const party = { id: standIn, name };
    const now = Date.now();
    for (const transfer of state.transfers.involving(standIn)) {
      deliver(writes.commit(
        () => dropRemoteRecipient(state, transfer.id, party, now),
        () => [],
      ));
    }
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
    routeRun(id, steps);
    shared?.drain();
  }

  function requeueUnconfirmed(id: ConnId): void {
    const session = state.session(id);
    const since = lastHeard.get(id);
    if (
      session === undefined || since === undefined || session.acks
    ) return;
    writes.commit(() => store.requeueSince(session.nameKey, since), () => 0);
    shared?.drain();
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
    delivery.forget(id);
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
    disconnectNow(id);
  }

  /**
   * Each connection's address group (address_group.ts): the log's limiter
   * keys by it, not by "ip:port", or every new connection is a new key.
   */
  const groups = new Map<ConnId, string>();
  const groupOf = (id: ConnId) => groups.get(id) ?? "";

  /** Whether `id` sends or receives the transfer file data `message` names. */
  function takesPart(id: ConnId, message: ClientMessage): boolean {
    const xfer = (message as { xfer?: unknown }).xfer;
    if (typeof xfer !== "number") return false;
    const transfer = state.transfers.get(xfer);
    // A recipient here of a file from another node answers about it by
    // the id this node gave it (file_bridge.ts).
    return transfer !== undefined
      ? transfer.sender === id || transfer.recipients.has(id)
      : bridge.fromLocal(xfer, id) !== undefined;
  }

  /**
   * Whether a message is paced by others rather than by its sender, and so
   * passes the rate limit: file data of a transfer it takes part in (the
   * window paces it), an answer to an offer still waiting for its answer,
   * a cancel of a transfer it takes part in (each once: then it is out).
   * Counted, a burst of others' offers made a client that declines them at
   * once break its own rate, and the server disconnected it as a flood.
   */
  function pacedByOthers(id: ConnId, message: ClientMessage): boolean {
    switch (message.t) {
      case "file_accept":
      case "file_decline": {
        const transfer = state.transfers.get(message.xfer);
        const recipient = transfer?.recipients.get(id);
        return transfer !== undefined && transfer.answerBy !== null &&
          recipient !== undefined && !recipient.accepted;
      }
      case "file_cancel":
        return takesPart(id, message);
      default:
        return isFileData(message.t) && takesPart(id, message);
    }
  }

  async function serveConnection(
    conn: EdgeConnection,
    group: string,
  ): Promise<void> {
    const newNamesFree = conn.loopback && !limits.limitNewNamesFromLoopback;
    let channel: SecureChannel;
    try {
      channel = await acceptChannel(conn, {
        privateKey: options.privateKey,
        publicSpki: options.publicSpki,
        timeoutMs: limits.handshakeTimeoutMs,
        limitDecrypt: (decrypt) => decrypts.run(decrypt),
        queued: gauge,
        smallFrames: frameAead,
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
    registrationDeadlines.add(id, limits.registerTimeoutMs);
    const gate = new IdentityGate(identities, channel.transcriptHash);
    let said: "goodbye" | null = null;
    lastHeard.set(id, Date.now());
    const rate = new MessageRate(
      limits,
      addressBuckets,
      group,
      Date.now(),
      historyBuckets,
    );
    const budget = new RunBudget(limits.maxQueuedBytes);
    try {
      for (;;) {
        // Held back while recipients' queues are over the bound (the edge
        // has stopped reading the socket too).
        if (gauge.held) await gauge.flowing();
        const turn = turns.check();
        if (turn !== null) await turn;
        const batch = await channel.receive();
        // Null when the peer closed, or when we dismissed it.
        if (batch === null || !channels.has(id)) break;
        lastHeard.set(id, Date.now());
        let quit = false;
        // Messages to route, and direct replies kept in their order among them.
        let steps: Step[] = [];
        // Routed once long enough (run_budget.ts); reset by flush.
        budget.reset();
        const frame = batch[0]?.body.buffer;
        const deliverRouted = ({ out, full }: Routed) => {
          if (!full) return deliverRun(id, out, frame);
          // Others still get what the routed part sent them.
          deliverRun(
            id,
            out.flatMap((one) => {
              if (!reaches(state, one.to, id)) return [one];
              const others = recipients(state, one.to)
                .filter((to) => to !== id);
              return others.length === 0 ? [] : [{ ...one, to: others }];
            }),
            frame,
          );
          dismiss(id, channel, NOT_READING);
        };
        // Synchronous on one node: nothing may come between a run's commit
        // and its delivery (another run's messages would overtake this
        // one's), and not even a microtask between two runs of one frame,
        // or Delivery would send each recipient a smaller batch per run (a
        // 4 x 2048 fan-out cost 2-4x the server CPU per delivery with an
        // await here). A cluster node waits for the log (a promise).
        //
        // The frame's last run (`last`) is held to the end of the turn on one
        // node (turnBatch), to be committed with the other connections' runs
        // of the turn: the connection reads on once it is delivered. Earlier
        // runs of a long frame go at once, as the run budget cut them, and
        // so does a file chunk (a bulk frame: a chunk writes nothing, and a
        // transfer would get one chunk per turn).
        const bulkFrame = batch[0]?.outside === true;
        const flush = (last = true): Promise<void> | undefined => {
          if (steps.length === 0) return;
          const run = steps;
          steps = [];
          budget.reset();
          if (turnBatch !== null && last && !bulkFrame) {
            return turnBatch.add({
              live: () => channels.has(id),
              route: () => routeRun(id, run),
              failed: () => failedRun(id, run),
              deliver: deliverRouted,
            });
          }
          const routed = routeRun(id, run);
          if (shared === null) {
            deliverRouted(routed);
            return;
          }
          // Not after the wait: the log's records are applied meanwhile.
          shareGroupChanges();
          return settle(shared, run, routed).then((settled) => {
            // Dismissed while the log took the run's messages.
            if (channels.has(id)) deliverRouted(settled);
          });
        };
        if (batch[0]?.outside === true) delivery.bulkBodies.add(batch[0].body);
        for (const { header, body } of batch) {
          if (budget.full) {
            const settling = flush(false);
            if (settling !== undefined) await settling;
            if (gauge.held) await gauge.flowing();
            const turn = turns.check();
            if (turn !== null) await turn;
          }
          // Dismissed by one of this batch's own effects: read no further.
          if (!channels.has(id)) break;
          let message: ClientMessage | null = null;
          let malformed = "";
          try {
            message = parseClientMessage(header);
          } catch (error) {
            malformed = messageOf(error);
          }
          if (message?.t === "bye") {
            quit = true;
            break;
          }
          // A message that could not be parsed is counted too: each costs a
          // parse and a reply, and a frame holds a hundred thousand.
          const verdict = rate.judge(
            message?.t ?? null,
            Date.now(),
            message !== null && pacedByOthers(id, message),
          );
          if (verdict === "pass" && message === null) {
            steps.push({
              reply: {
                t: "error",
                re: requestIdOf(header),
                code: "bad_request",
                text: `ERROR: Bad request: ${malformed}`,
              },
            });
            budget.add(0, 1);
            continue;
          }
          if (verdict !== "pass") {
            if (message?.t === "ack") {
              heldAcksOf(id).hold(message.cursors);
              continue;
            }
            if (verdict === "flood") {
              const settling = flush();
              if (settling !== undefined) await settling;
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
            budget.add(0, 1);
            continue;
          }
          // Only a parsed message passes (the malformed one was answered).
          if (message === null) continue;
          if (
            (message.t === "register" || message.t === "prove") &&
            state.nameOf(id) === null
          ) {
            // The proof needs async crypto: a transaction must not span it.
            const settling = flush();
            if (settling !== undefined) await settling;
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
            // Everything the log held before this sign-in is applied here
            // first: what waits for them may have been sent on another node.
            if (cluster !== undefined) {
              await cluster.log.caughtUp(LOG_WAIT_MS).catch((error) =>
                log(
                  `cluster: signing in without the newest of the log: ${
                    messageOf(error)
                  }`,
                )
              );
              if (!channels.has(id)) break;
            }
            // From here to the registration nothing is awaited: what was
            // checked before an await may have changed during it. Another
            // key may have bound the name since the proof (two keys
            // claiming a free name at once), and the old session to take
            // over may have come while the log caught up.
            const taken = gate.recheck(result);
            if (taken !== null) {
              deliverRun(id, [{ to: [id], message: taken.message }]);
              continue;
            }
            // A new account takes a token of its address only now, proven:
            // a register left unproven must not spend its neighbours' ones.
            if (
              !newNamesFree &&
              state.store.getUser(nameKey(result.register.name)) ===
                undefined &&
              !newNameBuckets.take(group, Date.now())
            ) {
              deliverRun(id, [{
                to: [id],
                message: {
                  t: "error",
                  re: message.id,
                  code: "limit",
                  text: TOO_MANY_NEW_NAMES,
                },
              }]);
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
              channel.readsChatPositions = result.register.acks !== true
                ? "none"
                : result.register.varint === true
                ? "varint"
                : "fixed";
              // Room frames carry the varint forms, ids and all.
              channel.readsRoomFrames = channel.readsChatPositions ===
                  "varint" && result.register.room_frames === true;
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
            const session = state.session(id);
            if (session !== undefined) cluster?.joined(session);
            deliverRun(id, welcome);
            if (channel.readsRoomFrames) delivery.joinRoom(id);
            continue;
          }
          // A cluster holds prekeys for all its nodes: asking it takes a
          // round trip, which a transaction must not span.
          const session = state.session(id);
          if (
            cluster !== undefined && session !== undefined &&
            (message.t === "e2e_keys" || message.t === "e2e_bundle")
          ) {
            flush();
            if (!channels.has(id)) break;
            let out: Outbound[];
            try {
              out = await routeSharedE2eKeys(
                cluster.prekeys,
                session,
                message,
                body,
              );
            } catch (error) {
              log(`cluster: prekeys for ${session.name}: ${messageOf(error)}`);
              out = [{
                to: [id],
                message: {
                  t: "error",
                  re: message.id,
                  code: "internal",
                  text: "ERROR: The server could not reach its keys; try again",
                },
              }];
            }
            if (!channels.has(id)) break;
            deliverRun(id, out);
            continue;
          }
          // About a file from another node: that node runs it.
          if (
            cluster !== undefined && session !== undefined &&
            bridge.size > 0 && isFileAnswer(message) &&
            answerElsewhere(id, session.name, message)
          ) continue;
          // What was held goes first, with the first ack let through.
          if (message.t === "ack") steps.push(...takeHeldAcks(id));
          steps.push({ message, body });
          // A public message is queued for everyone online.
          budget.add(
            body.byteLength,
            message.t === "say" ? state.onlineIds().length : 1,
          );
        }
        const settling = flush();
        if (settling !== undefined) await settling;
        // Every body passed on was encoded (copied) for its recipients, or
        // copied to wait for the disk (deliverRun): the frame is dead. Not a
        // bulk frame's: its body waits in the recipients' queues, freed once
        // they have all sealed it (SharedBytes).
        if (batch[0]?.outside === true) {
          delivery.bulkBodies.delete(batch[0].body);
        } else channel.recycle(batch);
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
        delivery.forget(id);
        disconnectNow(id);
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

  function accept(
    group: string,
    address: string,
    unfinished: boolean,
  ): Admission {
    const decided = admission.accept(group, Date.now(), unfinished);
    if (decided.kind === "in") shares?.tookHandshake(group);
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
  }

  function admit(
    group: string,
    address: string,
    sockets: SocketCounts,
  ): string | null {
    // An address's connections on the other nodes of a cluster count too.
    const counts: SocketCounts = shares === null ? sockets : {
      socketCount: sockets.socketCount,
      socketsFrom: (from) =>
        sockets.socketsFrom(from) +
        shares.connectionsElsewhere(from, Date.now()),
    };
    const refused = stopping
      ? "the server is shutting down"
      : admission.admit(counts, group);
    if (refused !== null) {
      refusals.log(
        `admit:${group}`,
        `refused a connection from ${address}: ${refused}`,
      );
    }
    return refused;
  }

  function serve(conn: EdgeConnection, group: string): void {
    conns.add(conn);
    conn.closed.then(() => conns.delete(conn));
    serveConnection(conn, group).catch((error) =>
      log(`internal error: ${messageOf(error)}`)
    );
  }

  async function stop(): Promise<void> {
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
      const synced = writes.durable();
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
    registrationDeadlines.stop();
    clearTimeout(answerSweep);
    answerSweep = undefined;
    clearInterval(stallSweep);
    clearInterval(reporting);
  }

  return {
    limits,
    gauge,
    get stopping() {
      return stopping;
    },
    accept,
    admit,
    serve,
    stop,
  };
}

/** The core behind the network edge: listening, sockets, upgrades. */
export async function startServer(
  options: ServerOptions,
): Promise<RunningServer> {
  const core = createCore({
    ...options,
    roomFrames: options.roomFrames === true
      ? { crypto: nativeRoomCrypto }
      : options.roomFrames ?? false,
  });
  const { limits, gauge } = core;
  const unread = new QueueGauge(
    limits.maxUnreadBytes,
    Math.floor(limits.maxUnreadBytes / 2),
  );
  const edge = await startEdge({
    hostname: options.hostname,
    port: options.port,
    web: options.web ?? true,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    maxPayloadBytes: limits.maxPayloadBytes,
    maxHandshakePayloadBytes: limits.maxHandshakePayloadBytes,
    maxUnfinished: limits.maxUnfinished,
    maxUnfinishedPerGroup: limits.maxUnfinishedPerAddress,
    maxMessageFragments: limits.maxMessageFragments,
    closeTimeoutMs: limits.closeTimeoutMs,
    headersTimeoutMs: limits.headersTimeoutMs,
    idleTimeoutSeconds: limits.idleTimeoutSeconds,
    gauge,
    unread,
    // Room to answer the refused with a 503 before dropping them unanswered.
    maxSockets: limits.maxConnections + limits.maxConnectionsPerAddress,
    maxSocketsPerGroup: 2 * limits.maxConnectionsPerAddress,
    accept: core.accept,
    admit: (group, address) => core.admit(group, address, edge),
    onConnection: core.serve,
  });
  const serverFingerprint = await fingerprint(options.publicSpki);
  const memoryTrim = startMemoryTrim({ log: options.log ?? defaultLog });

  async function shutdown(): Promise<void> {
    if (core.stopping) return edge.finished;
    memoryTrim.stop();
    // Everyone is read again, to the end, as core.stop does for the gauge.
    unread.close();
    await core.stop();
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
    get peakUnreadBytes() {
      return unread.peak;
    },
    shutdown,
    finished: edge.finished,
  };
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

/** A log line on stdout with a timestamp: the server's, and its cluster node's. */
/**
 * `write`, given each line made safe to show. Log lines quote what clients
 * sent (names, reasons, errors about their frames): no control character of
 * theirs reaches the operator's terminal or splits a line in the log file.
 */
export function sanitizedLog(
  write: (line: string) => void,
): (line: string) => void {
  return (line) => write(sanitizeForTerminal(line));
}

export function defaultLog(line: string): void {
  const time = new Date().toISOString().replace("T", " ").slice(0, 19);
  console.log(`${time} ${line}`);
}

function isFileAnswer(message: { t: string }): message is FileAnswer {
  return message.t === "file_accept" || message.t === "file_decline" ||
    message.t === "file_ack" || message.t === "file_done" ||
    message.t === "file_cancel";
}
