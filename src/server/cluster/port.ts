// This module is browser compatible.

/**
 * What the server core needs of the other nodes of a cluster (issue 19),
 * and what it offers them: the core knows this interface only, so that a
 * single node loads no NATS code (node.ts implements it over NATS and is
 * imported by main.ts only with --cluster).
 */

import type { Outbound } from "../outbound.ts";
import type { RemoteUser } from "../remote_users.ts";
import type { Session } from "../session.ts";
import type { GroupChange } from "../group.ts";
import type { BusEvent } from "./bus_event.ts";
import type { GroupRecord, MemberChange } from "./group_record.ts";
import type { AddressCounts, AddressReport } from "../address_shares.ts";
import type { LogRecord } from "./log_record.ts";
import type { SharedPrekeys } from "../e2e_keys.ts";
import type { RemoteRecipient } from "../remote_recipients.ts";
import type { ConnId } from "../session.ts";
import type { FileAnswer } from "../transfers.ts";
import type { NameClaim } from "../identity_gate.ts";
import type { GroupNameClaim } from "./skeleton_claims.ts";
import type { NameBinding } from "./name_binding.ts";

/** What a node tells the core, once attached. */
export interface ClusterSink {
  /** Another node's event (a sign-in, a transfer's message) for this node. */
  event(event: BusEvent): void;
  /** Another node reported a user (entry: its presence key). */
  seen(entry: string, user: RemoteUser): void;
  /** Another node's user left (or their entry was removed). */
  gone(entry: string): void;
  /** Another node stopped, or died: its users are offline. */
  nodeGone(node: string): void;
  /**
   * A group as the cluster has it now (cluster/groups.ts), and the changes
   * other nodes made to it since the last one (null: not known).
   */
  group(record: GroupRecord, changes: readonly MemberChange[] | null): void;
  /**
   * A name's binding in the cluster's names bucket (name_binding.ts), as
   * it is when attached and each time one is made since.
   */
  nameBound(nameKey: string, binding: NameBinding): void;
  /** Another node's report of its addresses (address_report.ts). */
  addresses(report: AddressReport): void;
  /** This node's signed-in users now, for the refresh of their presence. */
  sessions(): Iterable<Session>;
  /** The first log sequence this node's store has not applied. */
  logFrom(): number;
  /**
   * The log's next records, in order, once each (log_apply.ts), up to
   * sequence `last` (past the last record when some did not decode).
   */
  logRecords(
    records: readonly { readonly seq: number; readonly record: LogRecord }[],
    last: number,
  ): void;
}

/** The shared message log (cluster/log.ts), as the core needs it. */
export interface ClusterLogPort {
  /** The space the log's positions belong to: what nodes announce as store. */
  readonly id: string;
  /**
   * Resolves once JetStream stored `record`, with its sequence. A record
   * with a message id (a chat message with a cid) is sent again until
   * JetStream says it has it or will not take it, however long NATS is
   * away. Rejects with NotStoredError (../not_stored_error.ts) when it is certainly not
   * stored, with another error when that is not known (a record without a
   * message id that JetStream did not answer, or the log stopped).
   */
  publish(record: LogRecord): Promise<{ seq: number; duplicate: boolean }>;
  /** Stopped (the node is closing): nothing is published or applied any more. */
  readonly stopped: boolean;
  /** How far this node has applied the log (0: nothing yet). */
  readonly position: number;
  /**
   * Resolves once this node applied the log up to `seq`; rejects if it has
   * not within `timeoutMs` (not before: SharedLog.settle asks again).
   */
  applied(seq: number, timeoutMs: number): Promise<void>;
  /** Resolves once this node applied all the log held when asked. */
  caughtUp(timeoutMs: number): Promise<void>;
}

/** What the core tells the cluster about its outbound messages' addresses. */
export interface ClusterView {
  /** Who a stand-in id stands for (remote_recipients.ts). */
  remoteRecipient(id: ConnId): RemoteRecipient | undefined;
}

export interface ClusterPort {
  /** The message log every node applies (positions, history, what waits). */
  readonly log: ClusterLogPort;
  /** Starts telling `sink` what other nodes say. Once. */
  attach(sink: ClusterSink): void;
  /** Passes a transfer's messages in `outbound` to recipients on other nodes. */
  publish(outbound: readonly Outbound[], view: ClusterView): void;
  /**
   * Tells the node running transfer `xfer` (`senderNode`) what its
   * recipient `from`, signed in here, says about it (null: they are gone),
   * to be carried out there after what this node has applied of the log.
   */
  fileAnswer(
    senderNode: string,
    xfer: number,
    from: string,
    answer: FileAnswer | null,
  ): void;
  /** This node's addresses, for the other nodes' per-address limits. */
  shareAddresses(addresses: readonly AddressCounts[]): void;
  /** Changes to groups made here, for the other nodes. */
  groupsChanged(changes: readonly GroupChange[]): void;
  /** A user signed in here: others see them, and their messages come here. */
  joined(session: Session): void;
  /** A user signed in here left. */
  left(nameKey: string): void;
  /**
   * Binds `nameKey` to the identity key `fingerprint` across the cluster if
   * it is free and no name like it (its skeleton) is another key's or a
   * group's (compare-and-set, names.ts); resolves to what it is.
   */
  claimName(
    name: string,
    nameKey: string,
    fingerprint: string,
  ): Promise<NameClaim>;
  /**
   * Claims a new group's name across the cluster for its creator (a user
   * name), by its skeleton, before the group is made. Rejects at once
   * while NATS cannot be reached.
   */
  claimGroupName(name: string, creator: string): Promise<GroupNameClaim>;
  /** Drops a claim `claimGroupName` added for a group not made after all. */
  releaseGroupName(name: string): Promise<void>;
  /**
   * What `nameKey` is bound to across the cluster (name_binding.ts): the
   * key, and where its hold on the name begins if it took it over from an
   * earlier one; null when free.
   */
  nameBinding(nameKey: string): Promise<NameBinding | null>;
  /**
   * End-to-end prekey bundles, held for the whole cluster: `e2e_keys` and
   * `e2e_bundle` go here instead of this node's directory.
   */
  readonly prekeys: SharedPrekeys;
}
