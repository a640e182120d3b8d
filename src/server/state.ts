// This module is browser compatible.

/**
 * The server's in-memory model: connections, online users, groups and their
 * members. A plain data model: it never sends anything and does no I/O, so the
 * router can decide what to send and tests need no sockets.
 *
 * Names are unique ignoring case; every index is keyed by {@link nameKey}.
 * Group membership belongs to a user name, not to a connection: a member who
 * goes offline stays a member and is back in their groups when they register
 * the same name again. Groups outlive their last member.
 */

import { toHex } from "../crypto/bytes.ts";
import { DEFAULT_MAX_FILE_BYTES, nameKey } from "../protocol/limits.ts";
import type { Store } from "../store/store.ts";
import { TransferTable } from "./transfer_table.ts";
import { PrekeyDirectory } from "./prekey_directory.ts";
import { OneTimeTakers } from "./one_time_takers.ts";
import { AccountBudgets, DEFAULT_ACCOUNT_BUDGETS } from "./account_budgets.ts";
import { RemoteUsers } from "./remote_users.ts";
import { SkeletonIndex } from "./skeleton_index.ts";
import { RemoteRecipients } from "./remote_recipients.ts";
import type { Timestamp } from "../protocol/messages.ts";
import type { ConnId, Session } from "./session.ts";
import type { Group, GroupChange } from "./group.ts";

// Their own modules, so that the parts of the router can name them without
// importing the state (no import cycles); re-exported for those who knew
// them here.
export type { ConnId, Session } from "./session.ts";
export type { Group, GroupChange } from "./group.ts";

/**
 * The user names bound to an identity key or signed in under one that look
 * like `name` (protocol/name_skeleton.ts), `name` itself left out: the
 * identity gate's index (identity_gate.ts IdentityBindings.lookalikes), so
 * that `create` reads no list of every user.
 */
export type UserLookalikes = (
  name: string,
) => readonly { readonly name: string }[];

/** A user's last message time, kept whether or not they are online. */
export interface LastMessage {
  readonly name: string;
  readonly at: Timestamp;
}

export interface ServerLimits {
  /** Groups someone is in. */
  maxGroups: number;
  /**
   * Groups kept, with those nobody is in: a bound on the memory and rows
   * groups take, whatever accounts are made to create them.
   */
  maxStoredGroups: number;
  maxMembersPerGroup: number;
  maxGroupsPerUser: number;
  /** Largest file the server relays, from the declared size and the bytes sent. */
  maxFileBytes: number;
  /** File transfers one user may be sending at once. */
  maxTransfersPerUser: number;
  /**
   * One-time prekeys of one user that the connections of one address may
   * take in an hour, whatever identity keys they ask with
   * (account_budgets.ts); past it, bundles go out without one. 0: no limit.
   */
  oneTimeKeysPerHourPerOwnerPerAddress: number;
  /** One-time prekeys of all users together, the same. 0: no limit. */
  oneTimeKeysPerHourPerAddress: number;
  /**
   * Groups the accounts of one address may create in an hour, and join
   * (account_budgets.ts): accounts are free, and each may be in and create
   * 100 groups. 0: no limit.
   */
  groupsCreatedPerHourPerAddress: number;
  groupsJoinedPerHourPerAddress: number;
  /**
   * How long the server waits for each recipient of a file to accept or
   * decline it, in milliseconds; one who has not answered by then counts as
   * declined.
   */
  fileAnswerMs: number;
  /**
   * How long a recipient that accepted a file may go without acknowledging
   * any of what it owes before it is dropped from the transfer (ms).
   */
  fileStallMs: number;
}

/** Senders whose "everyone but me" list is kept (onlineIdsExcept). */
const ONLINE_EXCEPT_CACHED = 64;

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxGroups: 1000,
  maxStoredGroups: 10_000,
  maxMembersPerGroup: 1000,
  maxGroupsPerUser: 100,
  maxFileBytes: DEFAULT_MAX_FILE_BYTES,
  maxTransfersPerUser: 8,
  ...DEFAULT_ACCOUNT_BUDGETS,
  fileAnswerMs: 90_000,
  fileStallMs: 60_000,
});

interface MutableSession {
  id: ConnId;
  name: string;
  nameKey: string;
  connectedAt: Timestamp;
  lastMessageAt: Timestamp | null;
  fingerprint: string | null;
  /** Its connection's address group, for account_budgets.ts; null: not counted. */
  address: string | null;
  away: string | null;
  /** Name keys of those told the away reason since it was set: once each. */
  awayTold: Set<string>;
  readonly acks: boolean;
  ackCeiling: number | null;
}

interface MutableGroup {
  name: string;
  key: string;
  members: Map<string, string>;
  createdBy: string;
  createdAt: Timestamp;
}

export class ServerState {
  readonly limits: Readonly<ServerLimits>;
  /** File transfers in flight. */
  readonly transfers: TransferTable = new TransferTable();
  /** End-to-end prekeys users published (issue 17). */
  readonly prekeys: PrekeyDirectory;
  /** Who took whose one-time prekeys: one each per publish (11.2). */
  readonly oneTimeTakers: OneTimeTakers = new OneTimeTakers();
  /** What the accounts of one address may take together (11.2). */
  readonly budgets: AccountBudgets;
  /** Users signed in on other nodes of a cluster (issue 19); empty alone. */
  readonly remote: RemoteUsers = new RemoteUsers();
  /** Stand-in ids of users elsewhere who receive files from here. */
  readonly remoteRecipients: RemoteRecipients = new RemoteRecipients();

  // Map order is connection order, which `/list` shows; null until registered.
  #connections = new Map<ConnId, MutableSession | null>();
  #online = new Map<string, ConnId>();
  // Map order is creation order, which `/groups` shows.
  #groups = new Map<string, MutableGroup>();
  /** Members tags by group key, made when asked for (membersTag). */
  readonly #membersTags = new Map<string, string>();
  /** Their keys by skeleton: what a new group's name looks like (groupsLike). */
  #groupSkeletons = new SkeletonIndex();
  /**
   * Each user's groups in creation order, by name key: per-user limits,
   * `members` and its weight (reply_weight.ts) then cost the user's groups,
   * never a pass over every group on the server.
   */
  #groupsByUser = new Map<string, MutableGroup[]>();
  /** Each group's place in creation order, which those lists keep. */
  #groupOrder = new Map<string, number>();
  /**
   * Groups with members (the server's limit counts these), and the groups
   * nobody is in, by who created them (counted against their creator's
   * limit). Why: groups are never deleted, so one account creating and
   * leaving groups used up the server's whole limit for everyone (a group
   * with nobody in it blocks no one but its creator).
   */
  #occupiedGroups = 0;
  #emptyCreated = new Map<string, number>();
  // Outlives sessions so `/list` can show it again after a reconnect and a
  // store can persist it.
  #lastMessages = new Map<string, LastMessage>();
  #onlineIds: ConnId[] | null = null;
  /** Group changes made here, kept for a cluster's other nodes; null alone. */
  #groupChanges: GroupChange[] | null = null;
  /** onlineIdsExcept's lists, valid as long as #onlineIds. */
  #onlineIdsExcept = new Map<ConnId, readonly ConnId[]>();

  /**
   * Where everything that must survive a restart is written. Never absent:
   * `chat serve --data :memory:` and the tests use an in-memory one.
   */
  readonly store: Store;

  /** See UserLookalikes; userNameLike asks it. */
  readonly #userLookalikes: UserLookalikes;

  /**
   * `userLookalikes` left out (tests without identity keys), a group name is
   * checked against the exact user names only (userNameLike).
   */
  constructor(
    limits: Partial<ServerLimits>,
    store: Store,
    userLookalikes: UserLookalikes = () => [],
  ) {
    this.store = store;
    this.#userLookalikes = userLookalikes;
    this.prekeys = new PrekeyDirectory(store);
    const merged = { ...DEFAULT_LIMITS, ...limits };
    for (const [key, value] of Object.entries(merged)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(
          `Server limit ${key} must be a non-negative integer, got ${value}`,
        );
      }
    }
    this.limits = Object.freeze(merged);
    // What addresses spent of their hourly budgets before a restart counts.
    this.budgets = new AccountBudgets(this.limits, store);
    this.#load(store);
  }

  /** Groups, members and last message times come back from the store. */
  #load(store: Store): void {
    for (const user of store.listUsers()) {
      if (user.lastMessageAt !== null) {
        this.#lastMessages.set(user.nameKey, {
          name: user.name,
          at: user.lastMessageAt,
        });
      }
    }
    for (const record of store.listGroups()) {
      const group: MutableGroup = {
        name: record.name,
        key: record.key,
        members: new Map(),
        createdBy: record.createdBy,
        createdAt: record.createdAt,
      };
      this.#groupOrder.set(record.key, this.#groupOrder.size);
      for (const member of store.members(record.key)) {
        group.members.set(member.userKey, member.userName);
        this.#joined(member.userKey, group);
      }
      this.#groups.set(record.key, group);
      this.#groupSkeletons.add(record.key);
      if (group.members.size > 0) this.#occupiedGroups++;
      else this.#countEmpty(group, 1);
    }
  }

  /**
   * A user's name as last registered, whether online or only remembered by
   * the store; null for a name never seen.
   */
  knownUser(name: string): string | null {
    const online = this.sessionByName(name);
    if (online) return online.name;
    return this.store.getUser(nameKey(name))?.name ?? null;
  }

  /** Records a new, unregistered connection. */
  addConnection(id: ConnId): void {
    if (this.#connections.has(id)) {
      throw new Error(`Connection ${id} is already known`);
    }
    this.#connections.set(id, null);
  }

  /** Forgets a connection; returns its session if it had registered. */
  removeConnection(id: ConnId, now?: Timestamp): Session | null {
    const session = this.#connections.get(id) ?? null;
    this.#connections.delete(id);
    if (session !== null) {
      this.#onlineIds = null;
      this.#onlineIdsExcept.clear();
      // The name stays online if another connection holds it by now (one
      // registered before this one was forgotten): it is that one's.
      if (this.#online.get(session.nameKey) === id) {
        this.#online.delete(session.nameKey);
      }
      if (now !== undefined) this.store.touchSeen(session.nameKey, now);
    }
    return session;
  }

  hasConnection(id: ConnId): boolean {
    return this.#connections.has(id);
  }

  /** The session registered on a connection, if any. */
  session(id: ConnId): Session | undefined {
    return this.#connections.get(id) ?? undefined;
  }

  /** Records the identity key a registered connection proved. */
  setFingerprint(id: ConnId, fingerprint: string): void {
    const session = this.#connections.get(id);
    if (session) session.fingerprint = fingerprint;
  }

  /**
   * Records the address group a registered connection came from, which
   * what the accounts of one address take together is counted against
   * (account_budgets.ts); null, the default, counts nothing.
   */
  setAddress(id: ConnId, address: string | null): void {
    const session = this.#connections.get(id);
    if (session) session.address = address;
  }

  /** The address group recorded for `id` (setAddress); null if none. */
  addressOf(id: ConnId): string | null {
    return this.#connections.get(id)?.address ?? null;
  }

  /**
   * Marks a registered connection's user away with `reason`, or back with
   * null. Kept with the connection: signing in again starts present.
   */
  setAway(id: ConnId, reason: string | null): void {
    const session = this.#connections.get(id);
    if (!session) return;
    session.away = reason;
    session.awayTold.clear();
  }

  /**
   * Whether the sender with name key `from` is to be told that the user on
   * `id` is away: true once per sender while away, then false.
   */
  tellAway(id: ConnId, from: string): boolean {
    const session = this.#connections.get(id);
    if (!session || session.away === null || session.awayTold.has(from)) {
      return false;
    }
    // Bounded: a sender is remembered only while the user stays away.
    session.awayTold.add(from);
    return true;
  }

  /** See Session.ackCeiling. */
  setAckCeiling(id: ConnId, ceiling: number): void {
    const session = this.#connections.get(id);
    if (session) session.ackCeiling = ceiling;
  }

  /** Everything that waited was sent: acknowledgements cover all again. */
  clearAckCeiling(id: ConnId): void {
    const session = this.#connections.get(id);
    if (session) session.ackCeiling = null;
  }

  /** The name registered on a connection, or null if none. */
  nameOf(id: ConnId): string | null {
    return this.#connections.get(id)?.name ?? null;
  }

  /** The online session using a name, ignoring case. */
  sessionByName(name: string): Session | undefined {
    const id = this.#online.get(nameKey(name));
    return id === undefined ? undefined : this.session(id);
  }

  isOnline(name: string): boolean {
    return this.#online.has(nameKey(name));
  }

  /** Online sessions in connection order. */
  *sessions(): IterableIterator<Session> {
    for (const session of this.#connections.values()) {
      if (session !== null) yield session;
    }
  }

  /**
   * The connection ids of all online sessions, in connection order. Cached
   * until someone registers or leaves: every public message needs it.
   * Callers must not change the array.
   */
  onlineIds(): readonly ConnId[] {
    if (this.#onlineIds === null) {
      this.#onlineIds = [...this.sessions()].map((session) => session.id);
    }
    return this.#onlineIds;
  }

  /**
   * onlineIds() without `except`, cached likewise for the most recent
   * senders: a busy room would otherwise build a list of everyone for every
   * message it routes.
   */
  onlineIdsExcept(except: ConnId): readonly ConnId[] {
    let ids = this.#onlineIdsExcept.get(except);
    if (ids === undefined) {
      ids = this.onlineIds().filter((id) => id !== except);
      // Bounded: one list per sender is a list per user in a large room.
      if (this.#onlineIdsExcept.size >= ONLINE_EXCEPT_CACHED) {
        this.#onlineIdsExcept.clear();
      }
      this.#onlineIdsExcept.set(except, ids);
    }
    return ids;
  }

  /**
   * Registers a name on a connection. The caller checks validity and
   * uniqueness first; breaking either here is a bug, hence the throws.
   */
  register(id: ConnId, name: string, now: Timestamp, acks = false): Session {
    const key = nameKey(name);
    if (this.#online.has(key)) throw new Error(`Name ${name} is online`);
    if (this.#connections.get(id)) {
      throw new Error(`Connection ${id} is already registered`);
    }
    const session: MutableSession = {
      id,
      name,
      nameKey: key,
      connectedAt: now,
      lastMessageAt: this.#lastMessages.get(key)?.at ?? null,
      fingerprint: null,
      address: null,
      away: null,
      awayTold: new Set(),
      acks,
      ackCeiling: null,
    };
    this.#connections.set(id, session);
    this.#onlineIds = null;
    this.#onlineIdsExcept.clear();
    this.#online.set(key, id);
    this.store.ensureUser(name, key, now);
    this.store.touchSeen(key, now);
    this.#leaveGroupsLeftInStore(session, now);
    return session;
  }

  /**
   * Takes the user out of the groups this process still lists them in but
   * the store no longer does: `chat admin release` (another process, on the
   * same database) ended the memberships of a name while this one ran
   * (Store.releaseName). Done as the name's new owner signs in, before
   * anything is sent to them: the group messages that came for the name
   * since (its old key's, as the groups were) are forgotten, not handed to
   * the new key. A cluster's other nodes follow the group change.
   */
  #leaveGroupsLeftInStore(session: Session, now: Timestamp): void {
    const key = session.nameKey;
    if (!this.#groupsByUser.has(key)) return;
    const stored = new Set(this.store.groupsOf(key).map((group) => group.key));
    for (const group of this.groupsOf(key)) {
      if (stored.has(group.key)) continue;
      this.removeMember(group, session.name, now);
      this.store.forgetGroupSinceRelease(key, group.key);
    }
  }

  /** Notes that a registered connection sent a message. */
  recordMessage(id: ConnId, now: Timestamp): void {
    const session = this.#connections.get(id);
    if (!session) throw new Error(`Connection ${id} is not registered`);
    session.lastMessageAt = now;
    this.#lastMessages.set(session.nameKey, { name: session.name, at: now });
    this.store.touchMessage(session.nameKey, now);
  }

  /** Last message time by name, ignoring case, online or not. */
  lastMessageAt(name: string): Timestamp | null {
    return this.#lastMessages.get(nameKey(name))?.at ?? null;
  }

  /** Every user's last message time, online or not. */
  lastMessages(): IterableIterator<LastMessage> {
    return this.#lastMessages.values();
  }

  /** Keeps the group changes made from now on, for takeGroupChanges. */
  recordGroupChanges(): void {
    this.#groupChanges ??= [];
  }

  /** The group changes made since the last call (none unless recorded). */
  takeGroupChanges(): GroupChange[] {
    const changes = this.#groupChanges;
    if (changes === null || changes.length === 0) return [];
    this.#groupChanges = [];
    return changes;
  }

  get groupCount(): number {
    return this.#groups.size;
  }

  /** Groups someone is in: what the server's group limit counts. */
  get occupiedGroupCount(): number {
    return this.#occupiedGroups;
  }

  /** Groups `name` created that nobody is in now, ignoring case. */
  emptyGroupsCreatedBy(name: string): number {
    return this.#emptyCreated.get(nameKey(name)) ?? 0;
  }

  #countEmpty(group: Group, delta: 1 | -1): void {
    const creator = nameKey(group.createdBy);
    const count = (this.#emptyCreated.get(creator) ?? 0) + delta;
    if (count > 0) this.#emptyCreated.set(creator, count);
    else this.#emptyCreated.delete(creator);
  }

  /** A group by name, ignoring case. */
  group(name: string): Group | undefined {
    return this.#groups.get(nameKey(name));
  }

  /**
   * The groups whose names look like `name` (protocol/name_skeleton.ts),
   * the group called `name` itself left out.
   */
  groupsLike(name: string): Group[] {
    return this.#groupSkeletons.keysLike(name).flatMap((key) =>
      this.#groups.get(key) ?? []
    );
  }

  /**
   * The name of the group called `name` (ignoring case) or whose name looks
   * like it, or null: a new user name must not be a group's (identity_gate.ts).
   */
  groupNameLike(name: string): string | null {
    return this.group(name)?.name ?? this.groupsLike(name)[0]?.name ?? null;
  }

  /**
   * The name of a user that `name` is (ignoring case) or looks like, or
   * null: a new group must not be named like a person (router.ts create).
   * Users count when their name is bound to an identity key in the store,
   * or they are signed in here or on another node; a name bound only on
   * another node of a cluster, and offline, is not seen here but by the
   * cluster's claim before `create` is routed (group_name_claim.ts).
   * Look-alikes come from the skeleton index, never from a pass over all
   * users.
   */
  userNameLike(name: string): string | null {
    const key = nameKey(name);
    const bound = this.store.getUser(key);
    return this.sessionByName(name)?.name ??
      this.remote.get(key)?.name ??
      (bound !== undefined && bound.fingerprint !== null ? bound.name : null) ??
      this.#userLookalikes(name)[0]?.name ??
      this.remote.lookalikes(name)[0]?.name ?? null;
  }

  /** All groups in creation order. */
  groups(): IterableIterator<Group> {
    return this.#groups.values();
  }

  /** Creates an empty group. The caller checks name, uniqueness and limits. */
  createGroup(name: string, createdBy: string, now: Timestamp): Group {
    const key = nameKey(name);
    if (this.#groups.has(key)) throw new Error(`Group ${name} exists`);
    const group: MutableGroup = {
      name,
      key,
      members: new Map(),
      createdBy,
      createdAt: now,
    };
    this.#groups.set(key, group);
    this.#groupOrder.set(key, this.#groupOrder.size);
    this.#groupSkeletons.add(key);
    this.#countEmpty(group, 1);
    this.store.createGroup(name, key, createdBy, now);
    this.#groupChanges?.push({
      kind: "create",
      group: name,
      createdBy,
      createdAt: now,
    });
    return group;
  }

  /**
   * The group's members tag (docs/PROTOCOL.md 5.5 `members`): random, made
   * anew after each change of its members, so that an `e2e_gsay` naming
   * the tag of the list its sender's chain was given by is refused if
   * someone joined or left since (e2e_group_relay.ts).
   */
  membersTag(group: Group): string {
    let tag = this.#membersTags.get(group.key);
    if (tag === undefined) {
      tag = toHex(crypto.getRandomValues(new Uint8Array(8)));
      this.#membersTags.set(group.key, tag);
    }
    return tag;
  }

  isMember(group: Group, name: string): boolean {
    return group.members.has(nameKey(name));
  }

  /** Adds a member; false if they already were one. Limits are the caller's. */
  addMember(group: Group, name: string, now: Timestamp = 0): boolean {
    const stored = this.#mutable(group);
    const key = nameKey(name);
    if (stored.members.has(key)) return false;
    if (stored.members.size === 0) {
      this.#occupiedGroups++;
      this.#countEmpty(stored, -1);
    }
    stored.members.set(key, name);
    this.#membersTags.delete(group.key);
    this.store.addMember(group.key, key, name, now);
    this.#groupChanges?.push({ kind: "add", group: group.name, member: name });
    this.#joined(key, stored);
    return true;
  }

  /** Removes a member; false if they were not one. The group stays. */
  removeMember(group: Group, name: string, now: Timestamp = 0): boolean {
    const stored = this.#mutable(group);
    const key = nameKey(name);
    if (!stored.members.delete(key)) return false;
    this.#membersTags.delete(group.key);
    if (stored.members.size === 0) {
      this.#occupiedGroups--;
      this.#countEmpty(stored, 1);
    }
    this.store.removeMember(group.key, key, now);
    this.#groupChanges?.push({
      kind: "remove",
      group: group.name,
      member: name,
    });
    const list = this.#groupsByUser.get(key) ?? [];
    const at = list.indexOf(stored);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.#groupsByUser.delete(key);
    return true;
  }

  // Kept in creation order, its place found by halves: a user joins here
  // at most maxGroupsPerUser groups, but another node's records are not
  // held to that (remote_groups.ts), and one putting a user in thousands
  // of groups, newest first, made a pass over the list for each.
  #joined(userKey: string, group: MutableGroup): void {
    const list = this.#groupsByUser.get(userKey);
    if (list === undefined) {
      this.#groupsByUser.set(userKey, [group]);
      return;
    }
    const order = this.#orderOf(group);
    let low = 0;
    let high = list.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.#orderOf(list[middle]!) > order) high = middle;
      else low = middle + 1;
    }
    list.splice(low, 0, group);
  }

  #orderOf(group: MutableGroup): number {
    return this.#groupOrder.get(group.key) ?? 0;
  }

  /** How many groups a user is in, ignoring case, online or not. */
  groupCountOf(name: string): number {
    return this.#groupsByUser.get(nameKey(name))?.length ?? 0;
  }

  /** The groups a user is in, in creation order. */
  groupsOf(name: string): Group[] {
    return [...this.#groupsOf(name)];
  }

  /**
   * The first `count` groups a user is in, in creation order, without
   * copying the rest: what a `members` reply shows.
   */
  firstGroupsOf(name: string, count: number): Group[] {
    return this.#groupsOf(name).slice(0, count);
  }

  #groupsOf(name: string): readonly MutableGroup[] {
    return this.#groupsByUser.get(nameKey(name)) ?? [];
  }

  /** Members of a group who are online now, in join order. */
  onlineMembers(group: Group): Session[] {
    const online: Session[] = [];
    for (const key of group.members.keys()) {
      const id = this.#online.get(key);
      const session = id === undefined ? undefined : this.session(id);
      if (session) online.push(session);
    }
    return online;
  }

  // Groups handed out are read-only views of the stored objects; resolving by
  // key rejects a Group that did not come from this state.
  #mutable(group: Group): MutableGroup {
    const stored = this.#groups.get(group.key);
    if (stored !== group) throw new Error(`Group ${group.name} is not known`);
    return stored;
  }
}
