/**
 * What a cluster node (issue 19, cluster/node.ts) owes the other nodes of
 * each unit of work committed here: its messages to the shared log, its
 * changes to groups, and its users' answers about files run elsewhere
 * (file_bridge.ts). What they say is carried out by cluster_events.ts.
 */

import type { ClusterPort, ClusterView } from "./cluster/port.ts";
import type { FileBridge } from "./file_bridge.ts";
import type { Outbound } from "./outbound.ts";
import type { SharedLog } from "./shared_log.ts";
import type { ConnId, ServerState } from "./state.ts";
import type { FileAnswer } from "./transfers.ts";

export class ClusterShare {
  readonly #cluster: ClusterPort;
  readonly #shared: SharedLog;
  readonly #state: ServerState;
  readonly #bridge: FileBridge;
  /** What the cluster's bus needs to know of this node's addresses. */
  readonly #view: ClusterView;

  constructor(
    cluster: ClusterPort,
    shared: SharedLog,
    state: ServerState,
    bridge: FileBridge,
  ) {
    this.#cluster = cluster;
    this.#shared = shared;
    this.#state = state;
    this.#bridge = bridge;
    this.#view = {
      remoteRecipient: (id: ConnId) => state.remoteRecipients.get(id),
    };
  }

  /** What the other nodes are owed of a unit of work committed here. */
  share(outbound: readonly Outbound[]): void {
    this.#shared.drain();
    this.#cluster.publish(outbound, this.#view);
    this.shareGroupChanges();
  }

  /**
   * Changes to groups committed here, to the groups bucket. Taken before
   * anything else commits: what a record from the cluster changes to match
   * it is taken and dropped after it is applied, and would take these along
   * (a join lost on the other nodes, with its notice).
   */
  shareGroupChanges(): void {
    const changes = this.#state.takeGroupChanges();
    if (changes.length > 0) this.#cluster.groupsChanged(changes);
  }

  /**
   * A user here answers about a transfer run on another node: passed on to
   * that node under its id. False when `xfer` is not such a transfer.
   */
  answerElsewhere(id: ConnId, name: string, answer: FileAnswer): boolean {
    const bridged = this.#bridge.fromLocal(answer.xfer, id);
    if (bridged === undefined) return false;
    if (answer.t === "file_ack") this.#bridge.acked(bridged, answer.received);
    this.#cluster.fileAnswer(bridged.node, bridged.xfer, name, {
      ...answer,
      xfer: bridged.xfer,
    });
    // After these the sender's node sends this user nothing more about it.
    if (
      answer.t === "file_done" || answer.t === "file_cancel" ||
      answer.t === "file_decline"
    ) this.#bridge.close(bridged);
    return true;
  }
}
