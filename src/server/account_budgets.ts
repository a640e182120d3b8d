// This module is browser compatible.

/**
 * What the accounts of one address (an address group, address_group.ts)
 * may take together of what others need: accounts are free (a few a minute
 * per address, docs/PROTOCOL.md 5.8), so a limit per account alone is one
 * a classmate multiplies by making more. Counted per address of the
 * connection that asks; a session with no address (the server's own
 * machine, unless configured otherwise) is not counted.
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
 */

import type { BudgetCounts } from "./address_shares.ts";
import { KeyedTokenBuckets } from "./rate_limit.ts";

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

  constructor(limits: AccountBudgetLimits) {
    this.#ownerKeys = hourly(limits.oneTimeKeysPerHourPerOwnerPerAddress);
    this.#keys = hourly(limits.oneTimeKeysPerHourPerAddress);
    this.#creates = hourly(limits.groupsCreatedPerHourPerAddress);
    this.#joins = hourly(limits.groupsJoinedPerHourPerAddress);
  }

  /**
   * Tells `counter` of each token taken from now on (a budget turned off
   * takes none): a cluster's node, for the other nodes.
   */
  countWith(counter: BudgetCounter): void {
    this.#counter = counter;
  }

  /** Whether `address` may create a group now (taking it if so). */
  createGroup(address: string | null, now: number): boolean {
    if (address === null) return true;
    if (!this.#creates.take(address, now)) return false;
    if (this.#creates.rate !== 0) this.#counter?.tookGroupCreate(address);
    return true;
  }

  /** Whether `address` may join a group now (taking it if so). */
  joinGroup(address: string | null, now: number): boolean {
    if (address === null) return true;
    if (!this.#joins.take(address, now)) return false;
    if (this.#joins.rate !== 0) this.#counter?.tookGroupJoin(address);
    return true;
  }

  /**
   * Whether `address` may take one of `owner`'s one-time keys now (taking
   * it from its budgets if so). Null `address`: not counted.
   */
  takeOneTimeKey(address: string | null, owner: string, now: number): boolean {
    if (address === null) return true;
    // Both or neither: an address at its cap for one user spends none of
    // what it may take of others', and one at its cap for everyone's none
    // of what it may take of each user's (asking for many while refused
    // would empty those too).
    if (!this.#keys.peek(address, now)) return false;
    const taken = this.#ownerKeys.take(`${owner}\n${address}`, now) &&
      this.#keys.take(address, now);
    // One count for both: told when either budget is on.
    const counted = this.#keys.rate !== 0 || this.#ownerKeys.rate !== 0;
    if (taken && counted) this.#counter?.tookPrekey(address, owner);
    return taken;
  }

  /**
   * What `address`'s accounts took on another node of the cluster, charged
   * here: into debt of one budget at most, as the per-second limits are
   * (rate_limit.ts).
   */
  charge(address: string, took: BudgetCounts, now: number): void {
    this.#creates.charge(address, took.created, now);
    this.#joins.charge(address, took.joined, now);
    let prekeys = 0;
    for (const [owner, taken] of took.prekeys) {
      this.#ownerKeys.charge(`${owner}\n${address}`, taken, now);
      prekeys += taken;
    }
    this.#keys.charge(address, prekeys, now);
  }
}
