/**
 * This process as a node of a cluster joined through NATS (issue 19): the
 * bus, presence and name bindings behind the one interface the server core
 * knows (port.ts). main.ts imports this only for `chat serve --cluster`.
 */

import type { Outbound } from "../outbound.ts";
import type { Session } from "../session.ts";
import { ClusterBus } from "./bus.ts";
import { fileAnswer, fileCrossings, signedIn } from "./bus_event.ts";
import { ClusterGroups } from "./groups.ts";
import { ClusterLog, type LogRetention } from "./log.ts";
import type { NameBinding } from "./name_binding.ts";
import { ClusterNames } from "./names.ts";
import { ClusterPrekeys } from "./prekeys.ts";
import {
  connectNats,
  type KV,
  natsAsksForCredentials,
  type NatsConnection,
  openBucket,
} from "./nats.ts";
import type { ClusterPort, ClusterSink, ClusterView } from "./port.ts";
import type { FileAnswer } from "../transfers.ts";
import { ClusterPresence } from "./presence.ts";
import type { AddressCounts } from "../address_shares.ts";
import { decodeAddressReport, encodeAddressReport } from "./address_report.ts";
import {
  ALL_LIMITS_SUBJECT,
  GROUPS_BUCKET,
  limitsSubject,
  NAMES_BUCKET,
  NODES_BUCKET,
  PREKEYS_BUCKET,
  PRESENCE_BUCKET,
} from "./subjects.ts";
import type { GroupChange } from "../group.ts";
import type { NameClaim } from "../identity_gate.ts";
import type { GroupNameClaim } from "./skeleton_claims.ts";

export interface ClusterOptions {
  /** nats://host:port of one or more NATS servers (with JetStream). */
  urls: readonly string[];
  /** How long a node's users stay listed after it stops refreshing them. */
  presenceTtlMs: number;
  /** The message log's retention asked for (cluster/log.ts). */
  logRetention?: Partial<LogRetention>;
  log: (line: string) => void;
}

/**
 * What a node says at start when its NATS server (at `server`, host:port)
 * asked it for no credentials: every node believes what is in NATS, so
 * whoever can reach that port can do what the host can.
 */
export function openNatsWarning(server: string): string {
  return `cluster: WARNING: the NATS server at ${server} lets anyone connect without credentials: whoever can reach its port can write into the message log as any user (public messages, names, groups, end-to-end keys) and read who talks to whom. Run it with --user and --pass and give them to every node: --cluster nats://USER:PASS@HOST:PORT`;
}

/** How long a user stays listed by default after their node died. */
export const DEFAULT_PRESENCE_TTL_MS = 15_000;

export class ClusterNode implements ClusterPort {
  /** This node's id in subjects and entries: fresh at each start. */
  readonly id: string;
  readonly #nc: NatsConnection;
  readonly #bus: ClusterBus;
  readonly #presence: ClusterPresence;
  readonly #names: ClusterNames;
  readonly #groups: ClusterGroups;
  /** The groups bucket, read once at start to record older groups' names. */
  readonly #groupsBucket: KV;
  /** The message log (cluster/log.ts). */
  readonly log: ClusterLog;
  readonly prekeys: ClusterPrekeys;
  readonly #log: (line: string) => void;
  #attached = false;
  #closing = false;
  /** The names bucket's watch (ClusterNames.watchBindings), once started. */
  #bindingsWatch: { stop(): void } | null = null;
  /** False while NATS is away (claims then fail at once, not at a timeout). */
  #reachable = true;

  private constructor(
    id: string,
    nc: NatsConnection,
    bus: ClusterBus,
    presence: ClusterPresence,
    names: ClusterNames,
    groups: ClusterGroups,
    groupsBucket: KV,
    messageLog: ClusterLog,
    prekeys: ClusterPrekeys,
    log: (line: string) => void,
  ) {
    this.id = id;
    this.#nc = nc;
    this.#bus = bus;
    this.#presence = presence;
    this.#names = names;
    this.#groups = groups;
    this.#groupsBucket = groupsBucket;
    this.log = messageLog;
    this.prekeys = prekeys;
    this.#log = log;
  }

  /** Connects to NATS and opens the buckets; throws an error a user can act on. */
  static async start(options: ClusterOptions): Promise<ClusterNode> {
    const id = crypto.randomUUID().replaceAll("-", "");
    const nc = await connectNats(options.urls, `chat-${id}`);
    try {
      if (!natsAsksForCredentials(nc)) {
        options.log(openNatsWarning(nc.getServer()));
      }
      const presence = await openBucket(nc, PRESENCE_BUCKET, 0);
      const nodes = await openBucket(nc, NODES_BUCKET, options.presenceTtlMs);
      // The bucket keeps the TTL of the node that made it; every node must
      // expire entries by the same one, or it drops users of the others
      // between two of their refreshes.
      const bucketTtl = (await nodes.status()).ttl;
      const ttlMs = bucketTtl > 0 ? bucketTtl : options.presenceTtlMs;
      if (ttlMs !== options.presenceTtlMs) {
        options.log(
          `cluster: using the cluster's presence TTL of ${
            ttlMs / 1000
          } s, not --presence-ttl ${
            options.presenceTtlMs / 1000
          }: the node that made the bucket set it`,
        );
      }
      const names = await openBucket(nc, NAMES_BUCKET, 0);
      const groups = await openBucket(nc, GROUPS_BUCKET, 0);
      const messageLog = await ClusterLog.open(
        nc,
        options.log,
        options.logRetention,
      );
      const prekeys = await openBucket(nc, PREKEYS_BUCKET, 0);
      return new ClusterNode(
        id,
        nc,
        new ClusterBus(nc, id, options.log),
        new ClusterPresence(presence, nodes, id, ttlMs, options.log),
        new ClusterNames(names, id, Date.now, () => messageLog.end()),
        new ClusterGroups(groups, id, options.log),
        groups,
        messageLog,
        new ClusterPrekeys(prekeys, options.log),
        options.log,
      );
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /** The NATS server this node is connected to now. */
  get server(): string {
    return this.#nc.getServer();
  }

  attach(sink: ClusterSink): void {
    if (this.#attached) throw new Error("The cluster node is attached already");
    this.#attached = true;
    this.#bus.start((event) => sink.event(event));
    this.#nc.subscribe(ALL_LIMITS_SUBJECT, {
      callback: (error, msg) => {
        if (error !== null) return;
        try {
          const report = decodeAddressReport(msg.data);
          if (report.node !== this.id) sink.addresses(report);
        } catch (bad) {
          this.#log(
            `cluster: dropped a bad address report on ${msg.subject}: ${
              messageOf(bad)
            }`,
          );
        }
      },
    });
    // What presence makes of silence depends on whether NATS is there.
    (async () => {
      for await (const status of this.#nc.status()) {
        if (status.type === "disconnect") {
          this.#reachable = false;
          this.#presence.reachable(false);
        } else if (status.type === "reconnect") {
          this.#reachable = true;
          this.#presence.reachable(true);
        }
      }
    })().catch(() => {});
    // A node closed while these start (its port was taken) has nothing to
    // say about them.
    this.#presence.start(sink).catch((error) => {
      if (!this.#closing) {
        this.#log(`cluster: cannot watch presence: ${messageOf(error)}`);
      }
    });
    this.#groups.start(sink).catch((error) => {
      if (!this.#closing) {
        this.#log(`cluster: cannot watch groups: ${messageOf(error)}`);
      }
    });
    this.#names.watchBindings(
      (nameKey, binding) => sink.nameBound(nameKey, binding),
      this.#log,
    ).then((watch) => {
      this.#bindingsWatch = watch;
      if (this.#closing) watch.stop();
    }).catch((error) => {
      if (!this.#closing) {
        this.#log(`cluster: cannot watch name bindings: ${messageOf(error)}`);
      }
    });
    (async () => {
      const names = olderRecordsLine(
        await this.#names.recordOlderBindings(),
        "name",
      );
      if (names !== null) this.#log(names);
      const groups = olderRecordsLine(
        await this.#names.recordOlderGroups(this.#groupsBucket),
        "group",
      );
      if (groups !== null) this.#log(groups);
    })().catch((error) => {
      if (!this.#closing) {
        this.#log(
          `cluster: cannot record the names bound and groups made before look-alikes were checked across nodes (the next node to start tries again): ${
            messageOf(error)
          }`,
        );
      }
    });
    this.log.start(
      sink.logFrom(),
      (records, last) => sink.logRecords(records, last),
    )
      .catch((error) => {
        if (!this.#closing) {
          this.#log(
            `cluster: cannot read the message log: ${messageOf(error)}`,
          );
        }
      });
  }

  shareAddresses(addresses: readonly AddressCounts[]): void {
    try {
      this.#nc.publish(
        limitsSubject(this.id),
        encodeAddressReport({ node: this.id, addresses }),
      );
    } catch {
      // Closed or draining: the next report says it again.
    }
  }

  groupsChanged(changes: readonly GroupChange[]): void {
    this.#groups.changed(changes);
  }

  publish(outbound: readonly Outbound[], view: ClusterView): void {
    const now = Date.now();
    // What the sender said before an offer or a cancel is in the log up
    // to here (its run was settled first): the recipient's node waits for
    // it (docs/SCALING.md, "Bus events").
    const position = this.log.position;
    for (const out of outbound) {
      const files = fileCrossings(
        out,
        this.id,
        (id) => view.remoteRecipient(id),
        now,
        position,
      );
      for (const file of files) this.#bus.publish(file.subject, file.event);
    }
  }

  fileAnswer(
    senderNode: string,
    xfer: number,
    from: string,
    answer: FileAnswer | null,
  ): void {
    const told = fileAnswer(
      senderNode,
      xfer,
      this.id,
      from,
      answer,
      Date.now(),
      // What `from` said before is in the log up to here: their node waits
      // for it (docs/SCALING.md, "Bus events").
      this.log.position,
    );
    this.#bus.publish(told.subject, told.event);
  }

  joined(session: Session): void {
    this.#bus.listen(session.nameKey);
    this.#presence.joined(session);
    // After listening: a node where they are signed in too ends that
    // session, and its own event (if it was first) ends none here.
    const told = signedIn(session.name, this.id, session.connectedAt);
    this.#bus.publish(told.subject, told.event);
  }

  left(nameKey: string): void {
    this.#bus.stopListening(nameKey);
    this.#presence.left(nameKey);
  }

  claimName(
    name: string,
    nameKey: string,
    fingerprint: string,
  ): Promise<NameClaim> {
    return this.#names.claim(name, nameKey, fingerprint);
  }

  claimGroupName(name: string, creator: string): Promise<GroupNameClaim> {
    if (!this.#reachable) {
      return Promise.reject(new Error("NATS cannot be reached"));
    }
    return this.#names.claimGroup(name, creator);
  }

  releaseGroupName(name: string): Promise<void> {
    return this.#names.releaseGroup(name);
  }

  nameBinding(nameKey: string): Promise<NameBinding | null> {
    return this.#names.binding(nameKey);
  }

  /** Removes this node's users from the cluster and closes the connection. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#bindingsWatch?.stop();
    await this.#presence.stop();
    this.#groups.stop();
    this.log.stop();
    await this.#nc.drain().catch(() => {});
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What the operator is told of the names (or groups) this node recorded as
 * taken before look-alikes were checked across nodes; null when another node
 * did it already, or when there was none: the first node of a new cluster
 * said `recorded 0 ...` twice, which told a newcomer nothing but to worry.
 */
export function olderRecordsLine(
  recorded: number | null,
  what: "name" | "group",
): string | null {
  if (recorded === null || recorded === 0) return null;
  const noun = recorded === 1 ? what : `${what}s`;
  const done = what === "name" ? "bound" : "made";
  return `cluster: recorded ${recorded} ${noun} ${done} before look-alikes were checked across nodes`;
}
