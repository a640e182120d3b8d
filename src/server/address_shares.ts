// This module is browser compatible.

/**
 * Per-address limits across the nodes of a cluster (issue 19): what this
 * node reports of its addresses every {@link REPORT_MS}, and what it makes
 * of the other nodes' reports (cluster/address_report.ts). An address's
 * connections are counted with those it holds on the other nodes (their
 * last report, while fresh); the handshake and message tokens it took
 * elsewhere are charged to this node's buckets for it, and so are the
 * hourly budgets its accounts took there (account_budgets.ts: groups
 * created and joined, one-time prekeys). So the limits hold for the
 * cluster as for one server, at most one report late: an address may
 * overshoot by what it takes within one interval on each node (for an
 * hourly budget, what it has left of it: only when it spends on several
 * nodes within the same second).
 */

import { KeyedTokenBuckets } from "./rate_limit.ts";

/** One address group's counts in a report. */
export interface AddressCounts {
  readonly group: string;
  /** Connections open from it on the reporting node now. */
  readonly connections: number;
  /** Handshake tokens it took there since the last report. */
  readonly handshakes: number;
  /** Message tokens (of the per-address rate) it took there since then. */
  readonly messages: number;
  /** New-name tokens it took there since then (0 when left out). */
  readonly newNames?: number;
  /** Sign-in tokens it took there since then (0 when left out). */
  readonly signIns?: number;
  /** What its accounts took there of their hourly budgets (none: left out). */
  readonly budgets?: BudgetCounts;
}

/**
 * What the accounts of one address took of their hourly budgets
 * (account_budgets.ts) on a node since its last report.
 */
export interface BudgetCounts {
  /** Groups created. */
  readonly created: number;
  /** Groups joined. */
  readonly joined: number;
  /**
   * One-time prekeys taken, per owner (name key), each counted once: their
   * sum is what the address took of everyone's.
   */
  readonly prekeys: readonly (readonly [owner: string, taken: number])[];
}

export interface AddressReport {
  readonly node: string;
  readonly addresses: readonly AddressCounts[];
}

/** At most this many addresses in one report: the busiest. */
export const MAX_REPORTED_ADDRESSES = 4096;

/** How often a node reports its addresses. */
export const REPORT_MS = 1000;

/**
 * At most this many owners' one-time prekeys in one report, all addresses
 * together: past it (an address takes a key per round trip, a few a
 * second), the rest go uncounted on the other nodes.
 */
export const MAX_REPORTED_OWNERS = 4096;

/** A node's report counts for this long, then its node is taken as quiet. */
export const REPORT_STALE_MS = 3 * REPORT_MS;

/**
 * At most this many other nodes' last reports are kept (each up to
 * {@link MAX_REPORTED_ADDRESSES} addresses). A node takes a new id at each
 * start, so nodes restarted in a loop, or anyone who may publish on the
 * cluster's NATS, would otherwise add one per id until the next admission
 * swept the stale ones: past it the stale go first, then the oldest.
 */
export const MAX_REPORTING_NODES = 256;

/** Tokens an address took here since the last report. */
interface Took {
  handshakes: number;
  messages: number;
  newNames: number;
  signIns: number;
  created: number;
  joined: number;
  /** One-time prekeys taken, per owner. */
  prekeys: Map<string, number>;
}

export class AddressShares {
  /** Tokens taken here since the last report, per address group. */
  readonly #took = new Map<string, Took>();
  /** Per other node: its last report's connections, and when it came. */
  readonly #elsewhere = new Map<
    string,
    { at: number; connections: Map<string, number> }
  >();
  /** Whether the last report said anything (an empty one clears it). */
  #saidSomething = false;

  /** A handshake token taken here for `group`. */
  tookHandshake(group: string): void {
    this.#entry(group).handshakes++;
  }

  /**
   * Message tokens of the per-address rate taken here for `group`: one, or
   * a weight: an `ack`'s (message_rate.ts ackWeight), a `list`'s
   * (reply_weight.ts).
   */
  tookMessage(group: string, tokens = 1): void {
    this.#entry(group).messages += tokens;
  }

  /** A token of the per-address new-name rate taken here for `group`. */
  tookNewName(group: string): void {
    this.#entry(group).newNames++;
  }

  /** A token of the per-address sign-in rate taken here for `group`. */
  tookSignIn(group: string): void {
    this.#entry(group).signIns++;
  }

  /** A group created here by the accounts of `group` (account_budgets.ts). */
  tookGroupCreate(group: string): void {
    this.#entry(group).created++;
  }

  /** A group joined here by the accounts of `group`. */
  tookGroupJoin(group: string): void {
    this.#entry(group).joined++;
  }

  /** One of `owner`'s one-time prekeys taken here by `group`'s accounts. */
  tookPrekey(group: string, owner: string): void {
    const { prekeys } = this.#entry(group);
    prekeys.set(owner, (prekeys.get(owner) ?? 0) + 1);
  }

  /**
   * This node's report, from its connections per group now: the busiest
   * addresses first, at most {@link MAX_REPORTED_ADDRESSES}; null when
   * there is nothing to say and the last report said nothing either.
   */
  report(connections: ReadonlyMap<string, number>): AddressCounts[] | null {
    const groups = new Set([...connections.keys(), ...this.#took.keys()]);
    let owners = MAX_REPORTED_OWNERS;
    const counts = [...groups].map((group): AddressCounts => {
      const took = this.#took.get(group);
      const newNames = took?.newNames ?? 0;
      const signIns = took?.signIns ?? 0;
      const budgets = took === undefined ? null : budgetCounts(took, owners);
      owners -= budgets?.prekeys.length ?? 0;
      return {
        group,
        connections: connections.get(group) ?? 0,
        handshakes: took?.handshakes ?? 0,
        messages: took?.messages ?? 0,
        ...(newNames > 0 ? { newNames } : {}),
        ...(signIns > 0 ? { signIns } : {}),
        ...(budgets === null ? {} : { budgets }),
      };
    });
    this.#took.clear();
    if (counts.length === 0 && !this.#saidSomething) return null;
    this.#saidSomething = counts.length > 0;
    if (counts.length <= MAX_REPORTED_ADDRESSES) return counts;
    return counts.sort((a, b) =>
      b.connections - a.connections || b.handshakes - a.handshakes ||
      b.messages - a.messages
    ).slice(0, MAX_REPORTED_ADDRESSES);
  }

  /**
   * Another node's report: its connections are kept until the next (or
   * until it is stale); returns what it took, to charge here.
   */
  receive(report: AddressReport, now: number): AddressCounts[] {
    const connections = new Map<string, number>();
    for (const one of report.addresses) {
      if (one.connections > 0) connections.set(one.group, one.connections);
    }
    // Set again, not updated: the map stays in the order reports came.
    this.#elsewhere.delete(report.node);
    if (this.#elsewhere.size >= MAX_REPORTING_NODES) this.#forgetStale(now);
    if (this.#elsewhere.size >= MAX_REPORTING_NODES) {
      const oldest = this.#elsewhere.keys().next().value!;
      this.#elsewhere.delete(oldest);
    }
    this.#elsewhere.set(report.node, { at: now, connections });
    return report.addresses.filter((one) =>
      one.handshakes > 0 || one.messages > 0 || (one.newNames ?? 0) > 0 ||
      (one.signIns ?? 0) > 0 || one.budgets !== undefined
    );
  }

  /** Connections `group` holds on the other nodes, by their fresh reports. */
  connectionsElsewhere(group: string, now: number): number {
    this.#forgetStale(now);
    let total = 0;
    for (const { connections } of this.#elsewhere.values()) {
      total += connections.get(group) ?? 0;
    }
    return total;
  }

  /** How many other nodes' reports are kept (at most MAX_REPORTING_NODES). */
  get reportingNodes(): number {
    return this.#elsewhere.size;
  }

  #forgetStale(now: number): void {
    for (const [node, { at }] of this.#elsewhere) {
      if (now - at > REPORT_STALE_MS) this.#elsewhere.delete(node);
    }
  }

  /** A node stopped or died: its connections are gone. */
  nodeGone(node: string): void {
    this.#elsewhere.delete(node);
  }

  #entry(group: string): Took {
    let entry = this.#took.get(group);
    if (entry === undefined) {
      entry = {
        handshakes: 0,
        messages: 0,
        newNames: 0,
        signIns: 0,
        created: 0,
        joined: 0,
        prekeys: new Map(),
      };
      this.#took.set(group, entry);
    }
    return entry;
  }
}

/**
 * What `took` says of the hourly budgets, with at most `owners` owners'
 * prekeys; null when it took none.
 */
function budgetCounts(took: Took, owners: number): BudgetCounts | null {
  const prekeys = [...took.prekeys].slice(0, Math.max(0, owners));
  if (took.created === 0 && took.joined === 0 && prekeys.length === 0) {
    return null;
  }
  return { created: took.created, joined: took.joined, prekeys };
}

/** Per-address buckets that tell `took` of the tokens each take takes. */
export class CountedBuckets extends KeyedTokenBuckets {
  readonly #took: (key: string, tokens: number) => void;

  constructor(
    rate: number,
    burst: number,
    took: (key: string, tokens: number) => void,
  ) {
    super(rate, burst);
    this.#took = took;
  }

  // `tokens` passed on: an `ack` of many cursors weighs more than one, here
  // and in what the other nodes are told (left out, it counted one).
  override take(key: string, now: number, tokens = 1): boolean {
    if (!super.take(key, now, tokens)) return false;
    if (this.rate !== 0) this.#took(key, tokens);
    return true;
  }
}
