// This module is browser compatible.

/**
 * What the accounts of one address (an address group, address_group.ts)
 * may take together of what others need: accounts are free (a few a minute
 * per address, docs/PROTOCOL.md 5.8), so a limit per account alone is one
 * a classmate multiplies by making more. Counted per address of the
 * connection that asks, an on-link IPv6 peer with its /64 (lastingGroup,
 * applied here to every budget and every spend, so that no caller can
 * forget it: one student adding addresses to their interface took 60 more
 * joins and 4 more of someone's one-time keys with each); a session with
 * no address (the server's own machine, unless configured otherwise) is
 * not counted.
 *
 * One-time prekeys (11.2): an address takes at most a few of one user's an
 * hour, whatever identities it asks with, and a bounded number of
 * everyone's; past either, the bundle goes out without one (X3DH then runs
 * without DH4), so that no classmate can drain someone's keys and every
 * conversation with them still starts.
 *
 * Groups: the server holds 1000 that someone is in and 10,000 in all
 * (state.ts), and each account may be in 100 and create as many, so ten
 * free accounts filled the server's table and nobody could create a group
 * any more; a thousand filled anyone's group. The accounts of one address
 * now create a few groups an hour and join a few dozen, together.
 *
 * In a cluster the budgets hold across the nodes (issue 19): what an
 * address takes here is told to the other nodes with its other counts,
 * every second, and what it took there is charged here
 * (address_shares.ts), so an address signed in on three nodes has the
 * cluster's budget once.
 *
 * What is spent (here, or on another node) is kept in the store as it is
 * spent, and read back when the server starts: a restart does not give
 * every address a fresh hour (docs/SCALING.md).
 */

import type { BudgetCounts } from "./address_shares.ts";
import type { BudgetSpend, Store } from "../store/store.ts";
import { KeyedTokenBuckets } from "./rate_limit.ts";
import { BUDGET_MEMORY_MS } from "../store/budget_queries.ts";
import { lastingGroup } from "./address_group.ts";

/** The limits, each so many an hour, saved up to as many. */
export interface AccountBudgetLimits {
  /** One-time prekeys of one user that one address may take, an hour. */
  oneTimeKeysPerHourPerOwnerPerAddress: number;
  /** One-time prekeys of everyone that one address may take, an hour. */
  oneTimeKeysPerHourPerAddress: number;
  /** Groups the accounts of one address may create, an hour. */
  groupsCreatedPerHourPerAddress: number;
  /** Groups the accounts of one address may join, an hour. */
  groupsJoinedPerHourPerAddress: number;
}

/**
 * The defaults, which `chat serve` flags override (cli.ts): the cluster's,
 * when every node is given the same.
 */
export const DEFAULT_ACCOUNT_BUDGETS: Readonly<AccountBudgetLimits> = Object
  .freeze({
    // A few classmates behind one address each starting a conversation with
    // the same person in an hour; the next starts without a one-time key.
    oneTimeKeysPerHourPerOwnerPerAddress: 4,
    // A new member's first message to a group of 120 members at once.
    oneTimeKeysPerHourPerAddress: 120,
    // Ten groups at once (teams of a class), then one each 6 minutes: the
    // server's 1000 take one address 100 hours.
    groupsCreatedPerHourPerAddress: 10,
    groupsJoinedPerHourPerAddress: 60,
  });

/**
 * The most any of them may be set to, an hour: past it a budget is no
 * bound worth counting (0 turns one off).
 */
export const MAX_ACCOUNT_BUDGET = 100_000;

const HOUR_S = 3600;

/**
 * How far back a budget remembers: refilled in an hour, or in two from a
 * debt of one budget (charge). The store keeps spends as long.
 */
export { BUDGET_MEMORY_MS };

/** Where spends are kept: the server's store. */
export type BudgetJournal = Pick<
  Store,
  "recordBudgetSpend" | "budgetSpendsSince" | "dropBudgetSpends"
>;

/** How often spends past {@link BUDGET_MEMORY_MS} are looked for and dropped. */
export const BUDGET_SWEEP_MS = 60_000;

/**
 * Drops the spends `journal` keeps once they are {@link BUDGET_MEMORY_MS}
 * old, every `everyMs`: they hold network addresses, which the README says
 * stay on disk for two hours, also on a server where nobody spends anything
 * more (the store drops them otherwise only as new ones come, and at
 * start). `sweep` runs it once now. Returns what stops it.
 */
export function sweepBudgetSpends(
  journal: BudgetJournal,
  everyMs = BUDGET_SWEEP_MS,
): { sweep(now: number): void; stop(): void } {
  const sweep = (now: number) => {
    try {
      journal.dropBudgetSpends(now - BUDGET_MEMORY_MS);
    } catch {
      // A store that cannot be written now: tried again next time.
    }
  };
  const timer = setInterval(() => sweep(Date.now()), everyMs);
  return { sweep, stop: () => clearInterval(timer) };
}

/** A bucket of `perHour` tokens refilled over an hour; 0: no limit. */
function hourly(perHour: number): KeyedTokenBuckets {
  return new KeyedTokenBuckets(perHour / HOUR_S, perHour);
}

/** Who is told of what is taken here: the cluster's other nodes. */
export interface BudgetCounter {
  tookGroupCreate(address: string): void;
  tookGroupJoin(address: string): void;
  tookPrekey(address: string, owner: string): void;
}

export class AccountBudgets {
  readonly #ownerKeys: KeyedTokenBuckets;
  readonly #keys: KeyedTokenBuckets;
  readonly #creates: KeyedTokenBuckets;
  readonly #joins: KeyedTokenBuckets;
  #counter: BudgetCounter | null = null;
  readonly #journal: BudgetJournal | null;

  /**
   * `journal`: where spends are kept, and what was spent in the last
   * hours is read back from now (`now`).
   */
  constructor(
    limits: AccountBudgetLimits,
    journal: BudgetJournal | null = null,
    now = Date.now(),
  ) {
    this.#ownerKeys = hourly(limits.oneTimeKeysPerHourPerOwnerPerAddress);
    this.#keys = hourly(limits.oneTimeKeysPerHourPerAddress);
    this.#creates = hourly(limits.groupsCreatedPerHourPerAddress);
    this.#joins = hourly(limits.groupsJoinedPerHourPerAddress);
    this.#journal = journal;
    // Spent before a restart, oldest first: charged as it was taken.
    for (
      const spend of journal?.budgetSpendsSince(now - BUDGET_MEMORY_MS) ?? []
    ) {
      this.#apply(spend);
    }
  }

  #apply({ at, kind, address: group, owner, count }: BudgetSpend): void {
    const address = lastingGroup(group);
    if (kind === "create") this.#creates.charge(address, count, at);
    else if (kind === "join") this.#joins.charge(address, count, at);
    else {
      this.#ownerKeys.charge(`${owner}\n${address}`, count, at);
      this.#keys.charge(address, count, at);
    }
  }

  /** Keeps a spend (when a journal was given); a store that fails costs only it. */
  #keep(spend: BudgetSpend): void {
    if (this.#journal === null) return;
    try {
      this.#journal.recordBudgetSpend(spend);
    } catch {
      // The budget holds in memory meanwhile; only a restart forgets it.
    }
  }

  /**
   * Tells `counter` of each token taken from now on (a budget turned off
   * takes none): a cluster's node, for the other nodes.
   */
  countWith(counter: BudgetCounter): void {
    this.#counter = counter;
  }

  /** Whether address group `group` may create a group now (taking it if so). */
  createGroup(group: string | null, now: number): boolean {
    if (group === null) return true;
    const address = lastingGroup(group);
    if (!this.#creates.take(address, now)) return false;
    if (this.#creates.rate !== 0) {
      this.#counter?.tookGroupCreate(address);
      this.#keep({ at: now, kind: "create", address, owner: null, count: 1 });
    }
    return true;
  }

  /** Whether address group `group` may join a group now (taking it if so). */
  joinGroup(group: string | null, now: number): boolean {
    if (group === null) return true;
    const address = lastingGroup(group);
    if (!this.#joins.take(address, now)) return false;
    if (this.#joins.rate !== 0) {
      this.#counter?.tookGroupJoin(address);
      this.#keep({ at: now, kind: "join", address, owner: null, count: 1 });
    }
    return true;
  }

  /**
   * Whether address group `group` may take one of `owner`'s one-time keys
   * now (taking it from its budgets if so). Null `group`: not counted.
   */
  takeOneTimeKey(group: string | null, owner: string, now: number): boolean {
    if (group === null) return true;
    const address = lastingGroup(group);
    // Both or neither: an address at its cap for one user spends none of
    // what it may take of others', and one at its cap for everyone's none
    // of what it may take of each user's (asking for many while refused
    // would empty those too).
    if (!this.#keys.peek(address, now)) return false;
    const taken = this.#ownerKeys.take(`${owner}\n${address}`, now) &&
      this.#keys.take(address, now);
    // One count for both: told when either budget is on.
    const counted = this.#keys.rate !== 0 || this.#ownerKeys.rate !== 0;
    if (taken && counted) {
      this.#counter?.tookPrekey(address, owner);
      this.#keep({ at: now, kind: "prekey", address, owner, count: 1 });
    }
    return taken;
  }

  /**
   * What `group`'s accounts took on another node of the cluster, charged
   * here: into debt of one budget at most, as the per-second limits are
   * (rate_limit.ts).
   */
  charge(group: string, took: BudgetCounts, now: number): void {
    const address = lastingGroup(group);
    const spends: BudgetSpend[] = [];
    const spent = (
      kind: BudgetSpend["kind"],
      count: number,
      owner: string | null = null,
    ) => {
      if (count > 0) spends.push({ at: now, kind, address, owner, count });
    };
    spent("create", took.created);
    spent("join", took.joined);
    for (const [owner, taken] of took.prekeys) spent("prekey", taken, owner);
    for (const spend of spends) {
      this.#apply(spend);
      this.#keep(spend);
    }
  }
}
