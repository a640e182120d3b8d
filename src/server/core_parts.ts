/**
 * What the parts of the server's core (serve.ts createCore) share: made
 * once by createCore, handed to each part (run_routing.ts,
 * connection_end.ts, connection_loop.ts, sign_in.ts, cluster_share.ts, cluster_events.ts).
 */

import type { Store } from "../store/store.ts";
import type { TurnBudget } from "../transport/turn_budget.ts";
import type { AddressLimits } from "./address_limits.ts";
import type { QueueGauge } from "./backpressure.ts";
import type { ClusterPort } from "./cluster/port.ts";
import type { ClusterShare } from "./cluster_share.ts";
import type { ConnectionLimits } from "./config.ts";
import type { DeadlineSweep } from "./deadline_sweep.ts";
import type { Delivery } from "./delivery.ts";
import type { FileBridge } from "./file_bridge.ts";
import type { FileSweeps } from "./file_sweeps.ts";
import type { GroupBacklog } from "./group_backlog.ts";
import type { IdentityBindings } from "./identity_gate.ts";
import type { LogLimiter } from "./log_limiter.ts";
import type { Outbound } from "./outbound.ts";
import type { Semaphore } from "./semaphore.ts";
import type { ServedConnections } from "./served_connections.ts";
import type { SharedLog } from "./shared_log.ts";
import type { ConnId, ServerState } from "./state.ts";
import type { TurnBatch } from "./turn_batch.ts";
import type { WritePath } from "./write_path.ts";

export interface CoreParts {
  readonly privateKey: CryptoKey;
  readonly publicSpki: Uint8Array;
  /** The connection limits in force, the defaults with the overrides. */
  readonly limits: ConnectionLimits;
  /** Operational log lines, made safe to show (server_log.ts). */
  readonly log: (line: string) => void;
  /** Refusals and dismissals, logged once per kind and address. */
  readonly refusals: LogLimiter;
  /** The other nodes of a cluster; absent on a single node. */
  readonly cluster: ClusterPort | undefined;
  /** The cluster's shared log (shared_log.ts); null on a single node. */
  readonly shared: SharedLog | null;
  /** Bound to the cluster's shared log, and null on a single node. */
  readonly link: ClusterShare | null;
  /** The store as given (what the cluster's log applies to). */
  readonly givenStore: Store;
  /** The store the room writes to: in a cluster, the log's outbox. */
  readonly store: Store;
  readonly state: ServerState;
  readonly identities: IdentityBindings;
  /** Every write goes through here, one unit of work at a time. */
  readonly writes: WritePath;
  /** Runs held to the end of the turn (turn_batch.ts); null in a cluster. */
  readonly turnBatch: TurnBatch | null;
  readonly turns: TurnBudget;
  /** What is queued for recipients (the edge stops reading while held). */
  readonly gauge: QueueGauge;
  readonly decrypts: Semaphore;
  readonly addresses: AddressLimits;
  /** What each address has queued for its connections together. */
  readonly addressBacklogs: GroupBacklog<ConnId>;
  readonly delivery: Delivery;
  /** Bytes queued for `id`: in its channel, and waiting for the disk. */
  queuedFor(id: ConnId): number;
  /** The file transfers' deadlines (file_sweeps.ts). */
  readonly fileSweeps: FileSweeps;
  readonly connections: ServedConnections;
  /** Connections that must register by a deadline. */
  readonly registrationDeadlines: DeadlineSweep<ConnId>;
  /** Files from users on other nodes to users here, renumbered. */
  readonly bridge: FileBridge;
  /** Whether shutdown has begun. */
  readonly stopping: boolean;
  /** Sends what a unit of work produced (and tells the other nodes). */
  deliver(outbound: readonly Outbound[]): void;
  /** Sends what a run from `id` produced (Delivery.deliverRun). */
  deliverRun(id: ConnId, outbound: Outbound[], frame?: ArrayBufferLike): void;
}
