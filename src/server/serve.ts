/**
 * The server's wiring: `Connection` -> handshake -> SecureChannel -> the
 * session loop -> router -> delivery (delivery.ts). `createCore` is all of
 * it but the network, and takes any connection (tests use in-memory
 * pairs); `startServer` puts the edge (ws_edge.ts) in front of it. The
 * router decides; the core only carries out, in parts that share what
 * createCore makes (core_parts.ts): each connection's loop
 * (connection_loop.ts, sign_in.ts), its runs (run_routing.ts), its end
 * (connection_end.ts), the limits per address (address_limits.ts), the
 * recipients that stall (queue_stall.ts), the file deadlines
 * (file_sweeps.ts), the cluster (cluster_share.ts, cluster_events.ts) and the goodbye
 * (shutdown.ts).
 */

import { fingerprint } from "../crypto/keys.ts";
import { nativeRoomCrypto } from "../crypto/native_room.ts";
import type { Store } from "../store/store.ts";
import { messageOf } from "../transport/secure_channel.ts";
import { serverTurns, TURN_BUDGET_MS } from "./server_turns.ts";
import type { Admission, SocketCounts } from "./admission.ts";
import { AddressLimits } from "./address_limits.ts";
import { sweepBudgetSpends } from "./account_budgets.ts";
import { QueueGauge } from "./backpressure.ts";
import type { NameBinding } from "./cluster/name_binding.ts";
import type { ClusterPort } from "./cluster/port.ts";
import { attachCluster } from "./cluster_events.ts";
import { ClusterShare } from "./cluster_share.ts";
import { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from "./config.ts";
import type { Launcher } from "./connect_hint.ts";
import { checkAddressBacklog, dismiss, NOT_READING } from "./connection_end.ts";
import { serveConnection } from "./connection_loop.ts";
import type { CoreParts } from "./core_parts.ts";
import { DeadlineSweep } from "./deadline_sweep.ts";
import { Delivery } from "./delivery.ts";
import { FileBridge } from "./file_bridge.ts";
import { FileSweeps } from "./file_sweeps.ts";
import { GroupBacklog } from "./group_backlog.ts";
import { type IdentityBindings, StoreBindings } from "./identity_gate.ts";
import { LogLimiter } from "./log_limiter.ts";
import { LogOutbox } from "./log_outbox.ts";
import { startMemoryTrim } from "./memory_trim.ts";
import type { Outbound } from "./outbound.ts";
import { watchQueueStall } from "./queue_stall.ts";
import { RoomFrames, type RoomFramesOptions } from "./room_frames.ts";
import { KEY_RELEASED, watchReleases } from "./released_keys.ts";
import { recordSightings } from "./sightings.ts";
import { Semaphore } from "./semaphore.ts";
import { ServedConnections } from "./served_connections.ts";
import { defaultLog, sanitizedLog } from "./server_log.ts";
import { LOG_WAIT_MS, SharedLog } from "./shared_log.ts";
import { sayGoodbye } from "./shutdown.ts";
import { type ConnId, type ServerLimits, ServerState } from "./state.ts";
import { TurnBatch } from "./turn_batch.ts";
import { WritePath } from "./write_path.ts";
import { type EdgeConnection, startEdge } from "./ws_edge.ts";
import { TrustedProxies } from "./forwarded_for.ts";
import { readPaceFor } from "./paced_reads.ts";

// Kept importable from here, as they were before the core was split.
export { defaultLog, sanitizedLog } from "./server_log.ts";
export { TOO_MANY_NEW_NAMES, TOO_MANY_SIGN_INS } from "./sign_in.ts";

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
  /**
   * Host names, besides IP addresses and `localhost`, that browsers may
   * reach the server by (allowed_host.ts); a request naming another is
   * refused (DNS rebinding). Default: none.
   */
  allowedHosts?: readonly string[];
  /**
   * How the server was started (connect_hint.ts): the command a refused
   * browser's 403 tells the operator to restart it with. Default:
   * "executable".
   */
  launcher?: Launcher;
  /**
   * Reverse proxies whose `X-Forwarded-For` names the client of a
   * connection from them (IP literals; forwarded_for.ts): every limit of
   * one address, and the log, then count that client's address, not the
   * proxy's. Default: none (the header is never read).
   */
  trustedProxies?: readonly string[];
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

/**
 * An address's queued bytes are summed each time one of its connections'
 * backlog grows by this part of the budget (group_backlog.ts): 64 MiB / 256
 * = 256 KiB, so 64 connections pass the budget by 16 MiB at most.
 */
const BACKLOG_STEPS = 256;
const MIN_BACKLOG_STEP_BYTES = 16 * 1024;

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
  /** An upgrade the edge refused on its own, for the log (ws_edge.ts refused). */
  refused(group: string, address: string, why: string): void;
  /** Serves one connection from its handshake to its end. */
  serve(conn: EdgeConnection, group: string): void;
  /**
   * Says goodbye to everyone once what waits for the disk is out, closes
   * every connection, and resolves when they are closed or the grace is up.
   */
  stop(): Promise<void>;
}

/**
 * Makes this node's copy of a name's binding the cluster's (`binding`;
 * null: free), cut where the names bucket says (Store.cutOldKeys), or for
 * a binding that says nowhere, here and now (StoreBindings.set).
 */
async function followBinding(
  cluster: ClusterPort,
  local: StoreBindings,
  name: string,
  key: string,
  binding: NameBinding | null,
): Promise<void> {
  const owner = binding?.fingerprint ?? null;
  if (owner === local.fingerprintOf(key)) return;
  if (binding?.cut === undefined) return local.set(name, key, owner);
  // Not here and now: what was sent to the new key since stays. Only once
  // this node has every message up to the cut, or one applied later would
  // still be the name's.
  await cluster.log.applied(binding.cut.after, LOG_WAIT_MS);
  local.follow(name, key, binding.cut);
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
  // `create` asks the identity bindings' skeleton index for the user names a
  // group name looks like (called only once requests flow: after
  // `identities` below is made).
  const state = new ServerState(
    options.limits ?? {},
    store,
    (name) => identities.lookalikes(name),
  );
  const local = new StoreBindings(store, Date.now, (key) => {
    const session = state.sessionByName(key);
    if (session === undefined || session.fingerprint === null) return null;
    return { name: session.name, fingerprint: session.fingerprint };
  });
  // In a cluster a name is bound on all nodes at once (compare-and-set).
  const identities: IdentityBindings = cluster === undefined ? local : {
    fingerprintOf: (key) => local.fingerprintOf(key),
    nameOf: (key) => local.nameOf(key),
    // Look-alikes of names bound in this node's copy or online here, and of
    // names online on the other nodes: the early refusal, with no round
    // trip. A name bound on another node only, and offline, is seen by
    // `claim`, which claims the name's skeleton in the names bucket.
    lookalikes: (name) => [
      ...local.lookalikes(name),
      ...state.remote.lookalikes(name).flatMap((user) =>
        user.fingerprint === null
          ? []
          : [{ name: user.name, fingerprint: user.fingerprint }]
      ),
    ],
    bind: (name, key, fingerprint) => local.bind(name, key, fingerprint),
    claim: (name, key, fingerprint) =>
      cluster.claimName(name, key, fingerprint),
    async recheck(name, key) {
      const binding = await cluster.nameBinding(key);
      await followBinding(cluster, local, name, key, binding);
      return binding?.fingerprint ?? null;
    },
    async boundElsewhere(key, binding) {
      const user = local.store.getUser(key);
      if (user === undefined || user.fingerprint === null) return;
      await followBinding(cluster, local, user.name, key, binding);
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

  const connections = new ServedConnections();
  const channels = connections.channels;
  const conns = new Set<EdgeConnection>();
  const gauge = new QueueGauge(
    limits.maxQueuedBytes,
    Math.floor(limits.maxQueuedBytes / 2),
  );
  const turns = serverTurns();
  watchQueueStall(gauge, {
    channels,
    maxQueuedBytes: limits.maxQueuedBytes,
    queueStallMs: limits.queueStallMs,
    refusals,
    cutOff: (id, channel) => dismiss(core, id, channel, NOT_READING),
  });
  const decrypts = new Semaphore(limits.maxDecryptsInFlight);
  const addresses = new AddressLimits(
    limits,
    refusals,
    cluster,
    () => connections.groups.values(),
    state.budgets,
  );
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
      if (channel !== undefined) dismiss(core, id, channel, NOT_READING);
    },
    grew: (id, estimate) => {
      if (addressBacklogs.crossed(id, estimate)) checkAddressBacklog(core, id);
    },
    log,
  });
  let stopping = false;

  // Connections that must register by a deadline, one timer for them all.
  const registrationDeadlines = new DeadlineSweep<ConnId>((id) => {
    const channel = channels.get(id);
    if (channel !== undefined && state.nameOf(id) === null) {
      dismiss(core, id, channel, "no username was registered in time");
    }
  });

  /** Files from users on other nodes to users here, renumbered. */
  const bridge = new FileBridge();
  const link = shared === null
    ? null
    : new ClusterShare(cluster!, shared, state, bridge);

  function deliver(outbound: readonly Outbound[]): void {
    delivery.deliver(outbound);
    if (link !== null) link.share(outbound);
  }

  const fileSweeps = new FileSweeps(state, writes, deliver, () => stopping);

  const core: CoreParts = {
    privateKey: options.privateKey,
    publicSpki: options.publicSpki,
    limits,
    log,
    refusals,
    cluster,
    shared,
    link,
    givenStore: options.store,
    store,
    state,
    identities,
    writes,
    turnBatch,
    turns,
    gauge,
    decrypts,
    addresses,
    addressBacklogs,
    delivery,
    queuedFor: (id) => delivery.queuedFor(id),
    fileSweeps,
    connections,
    registrationDeadlines,
    bridge,
    get stopping() {
      return stopping;
    },
    deliver,
    deliverRun(id, outbound, frame) {
      fileSweeps.scheduleAnswers();
      delivery.deliverRun(id, outbound, frame);
      if (link !== null) link.share(outbound);
    },
  };

  // What other nodes say: their messages are stored here and sent to this
  // node's users (never published again); their users' comings and goings
  // are told to this node's room unless the user is signed in here too.
  if (link !== null) attachCluster(core, cluster!, shared!, link);

  function serve(conn: EdgeConnection, group: string): void {
    conns.add(conn);
    conn.closed.then(() => conns.delete(conn));
    serveConnection(core, conn, group).catch((error) =>
      log(`internal error: ${messageOf(error)}`)
    );
  }

  // A key whose name `chat admin release` freed meanwhile does nothing
  // more under it (released_keys.ts). A cluster binds names in its bucket.
  const releases = cluster === undefined
    ? watchReleases(store, () => state.sessions(), (session) => {
      const channel = channels.get(session.id);
      if (channel !== undefined) {
        dismiss(core, session.id, channel, KEY_RELEASED);
      }
    })
    : null;

  // What addresses spent of their budgets leaves the disk after two hours
  // (account_budgets.ts).
  const budgetSweep = sweepBudgetSpends(store);
  // Who is signed in is on disk within a minute, should the server crash
  // (sightings.ts).
  const sightings = recordSightings(writes, state, limits.sightingEveryMs);

  async function stop(): Promise<void> {
    stopping = true;
    releases?.stop();
    budgetSweep.stop();
    sightings.stop();
    await sayGoodbye(core, conns);
    registrationDeadlines.stop();
    fileSweeps.stop();
    addresses.stop();
  }

  return {
    limits,
    gauge,
    get stopping() {
      return stopping;
    },
    accept: (group, address, unfinished) =>
      addresses.accept(group, address, unfinished),
    admit: (group, address, sockets) =>
      addresses.admit(group, address, sockets, stopping),
    refused: (group, address, why) =>
      refusals.log(
        `admit:${group}`,
        `refused a connection from ${address}: ${why}`,
      ),
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
    ...(options.allowedHosts === undefined
      ? {}
      : { allowedHosts: options.allowedHosts }),
    ...(options.launcher === undefined ? {} : { launcher: options.launcher }),
    maxPayloadBytes: limits.maxPayloadBytes,
    maxHandshakePayloadBytes: limits.maxHandshakePayloadBytes,
    maxUnfinished: limits.maxUnfinished,
    maxUnfinishedPerGroup: limits.maxUnfinishedPerAddress,
    maxMessageFragments: limits.maxMessageFragments,
    maxHandshakeFrameReads: limits.maxHandshakeFrameReads,
    maxFrameReads: limits.maxFrameReads,
    ...readPaceFor(limits.messagesPerSecond, limits),
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
    ...(options.trustedProxies === undefined ||
        options.trustedProxies.length === 0
      ? {}
      : { trustedProxies: new TrustedProxies(options.trustedProxies) }),
    refused: core.refused,
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
