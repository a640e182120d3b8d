/**
 * What all the connections of one address (an address group, see
 * address_group.ts) may open and send together: otherwise each connection
 * it may open multiplies its limits. Admission's answers, logged when they
 * refuse; the token buckets for messages, history and new names. In a
 * cluster an address's limits hold across the nodes: what it holds and
 * takes here is reported to them every second, and what it takes there is
 * charged here (address_shares.ts); so are the hourly budgets of its
 * accounts (account_budgets.ts).
 */

import type { AccountBudgets } from "./account_budgets.ts";
import {
  type Admission,
  AdmissionPolicy,
  type SocketCounts,
  TOO_MANY_NEW,
  TOO_MANY_UNFINISHED,
} from "./admission.ts";
import {
  type AddressReport,
  AddressShares,
  CountedBuckets,
  REPORT_MS,
} from "./address_shares.ts";
import type { ClusterPort } from "./cluster/port.ts";
import { Comebacks } from "./comebacks.ts";
import type { ConnectionLimits } from "./config.ts";
import type { LogLimiter } from "./log_limiter.ts";
import { KeyedTokenBuckets } from "./rate_limit.ts";

export class AddressLimits {
  readonly #admission: AdmissionPolicy;
  readonly #shares: AddressShares | null;
  readonly #budgets: AccountBudgets | null;
  readonly #refusals: LogLimiter;
  readonly #reporting: ReturnType<typeof setInterval> | undefined;
  /** Chat messages, by all of an address's connections together. */
  readonly messages: KeyedTokenBuckets;
  /**
   * Each history reply reads and sends up to 256 KiB: an address's
   * connections together ask for a few a second (on this node).
   */
  readonly history: KeyedTokenBuckets;
  /**
   * Accounts are free, and each may hold store: names never seen before
   * come a few a minute per address (loopback aside: the server's own).
   * On a cluster, what an address took on the other nodes is charged here
   * too (address_shares.ts), as for messages.
   */
  readonly newNames: KeyedTokenBuckets;
  /**
   * Every sign-in is news to everyone signed in (`presence`), and so is its
   * end: an address's sign-ins come a few a minute (loopback aside). On a
   * cluster, what it took on the other nodes is charged here too: their
   * users hear of every sign-in on any node.
   */
  readonly signIns: KeyedTokenBuckets;
  /**
   * Known names coming back (a restart, a dropped Wi-Fi) sign in without
   * spending `signIns`, once per session of theirs that lasted and ended a
   * moment ago (comebacks.ts). Each node counts its own: a name that comes
   * back on another node pays that node's (shared) sign-ins.
   */
  readonly comebacks: Comebacks;

  /**
   * `connectionGroups` gives the address group of each connection served
   * here, for the reports to the cluster's other nodes; what `budgets`
   * (the state's) takes is reported with them, and charged from theirs.
   */
  constructor(
    limits: ConnectionLimits,
    refusals: LogLimiter,
    cluster: ClusterPort | undefined,
    connectionGroups: () => Iterable<string>,
    budgets: AccountBudgets | null = null,
  ) {
    this.#admission = new AdmissionPolicy(limits);
    this.#refusals = refusals;
    const shares = cluster === undefined ? null : new AddressShares();
    this.#shares = shares;
    this.#budgets = budgets;
    if (shares !== null) budgets?.countWith(shares);
    this.messages = shares === null
      ? new KeyedTokenBuckets(
        limits.messagesPerSecondPerAddress,
        limits.messageBurstPerAddress,
      )
      : new CountedBuckets(
        limits.messagesPerSecondPerAddress,
        limits.messageBurstPerAddress,
        (group, tokens) => shares.tookMessage(group, tokens),
      );
    this.history = new KeyedTokenBuckets(
      limits.historyPerSecondPerAddress,
      limits.historyBurstPerAddress,
    );
    this.newNames = shares === null
      ? new KeyedTokenBuckets(
        limits.newNamesPerMinutePerAddress / 60,
        limits.newNameBurstPerAddress,
      )
      : new CountedBuckets(
        limits.newNamesPerMinutePerAddress / 60,
        limits.newNameBurstPerAddress,
        (group) => shares.tookNewName(group),
      );
    this.signIns = shares === null
      ? new KeyedTokenBuckets(
        limits.signInsPerMinutePerAddress / 60,
        limits.signInBurstPerAddress,
      )
      : new CountedBuckets(
        limits.signInsPerMinutePerAddress / 60,
        limits.signInBurstPerAddress,
        (group) => shares.tookSignIn(group),
      );
    this.comebacks = new Comebacks(limits.maxConnectionsPerAddress, {
      settledMs: limits.comebackSettledMs,
      withinMs: limits.comebackWithinMs,
    }, Date.now());
    this.#reporting = shares === null ? undefined : setInterval(() => {
      const connections = new Map<string, number>();
      for (const group of connectionGroups()) {
        connections.set(group, (connections.get(group) ?? 0) + 1);
      }
      const report = shares.report(connections);
      if (report !== null) cluster!.shareAddresses(report);
    }, REPORT_MS);
  }

  /** The admission policy's first answer for a socket (ws_edge.ts accept). */
  accept(group: string, address: string, unfinished: boolean): Admission {
    const decided = this.#admission.accept(group, Date.now(), unfinished);
    if (decided.kind === "in") this.#shares?.tookHandshake(group);
    if (decided.kind !== "in") {
      const why = decided.kind === "refuse"
        ? decided.why
        : unfinished
        ? TOO_MANY_UNFINISHED
        : TOO_MANY_NEW;
      this.#refusals.log(
        `admit:${group}`,
        `refused a connection from ${address}: ${why}`,
      );
    }
    return decided;
  }

  /**
   * Its second, at the upgrade; null lets the connection in (ws_edge.ts
   * admit). None is let in once the server is `stopping`.
   */
  admit(
    group: string,
    address: string,
    sockets: SocketCounts,
    stopping: boolean,
  ): string | null {
    const shares = this.#shares;
    // An address's connections on the other nodes of a cluster count too.
    const counts: SocketCounts = shares === null ? sockets : {
      socketCount: sockets.socketCount,
      socketsFrom: (from) =>
        sockets.socketsFrom(from) +
        shares.connectionsElsewhere(from, Date.now()),
    };
    const refused = stopping
      ? "the server is shutting down"
      : this.#admission.admit(counts, group);
    if (refused !== null) {
      this.#refusals.log(
        `admit:${group}`,
        `refused a connection from ${address}: ${refused}`,
      );
    }
    return refused;
  }

  /** What addresses took on another node, charged here (a cluster's). */
  charge(report: AddressReport): void {
    const now = Date.now();
    for (const took of this.#shares!.receive(report, now)) {
      this.#admission.charge(took.group, took.handshakes, now);
      this.messages.charge(took.group, took.messages, now);
      this.newNames.charge(took.group, took.newNames ?? 0, now);
      this.signIns.charge(took.group, took.signIns ?? 0, now);
      if (took.budgets !== undefined) {
        this.#budgets?.charge(took.group, took.budgets, now);
      }
    }
  }

  /** Another node of the cluster is gone: what it reported goes too. */
  nodeGone(node: string): void {
    this.#shares?.nodeGone(node);
  }

  /** Stops reporting to the cluster. */
  stop(): void {
    clearInterval(this.#reporting);
  }
}
