// This module is browser compatible.

/**
 * The store a cluster node's core writes through when the message log is
 * shared in JetStream (issue 19, docs/SCALING.md "The message log"). It is
 * the node's own store for everything but the writes every node must see:
 *
 * - a new chat message is not stored here: it is kept as a log record and
 *   answered with a placeholder position (negative, so never a real one);
 *   serve.ts publishes the records, waits until this node has applied them
 *   back from the log (log_apply.ts, under the stream sequence), and only
 *   then answers the sender, with the placeholders replaced;
 * - acknowledgements, deliveries to clients that do not acknowledge and
 *   users new here are applied here and kept as records too, for the other
 *   nodes, published once their unit of work commits.
 *
 * So the router stays synchronous and unchanged, and the only positions a
 * client ever sees are the log's, the same on every node.
 */

import type { Timestamp } from "../protocol/messages.ts";
import type {
  BindResult,
  BudgetSpend,
  Conversation,
  GroupRecord,
  HistoryQuery,
  KeyCut,
  MemberRecord,
  MembershipPeriod,
  MessagePosition,
  NewMessage,
  NewPublicMessage,
  NewTransfer,
  ReleasedName,
  Store,
  StoredMessage,
  StoredPrekeys,
  TransferRecord,
  TransferResult,
  UserRecord,
} from "../store/store.ts";
import type { LogRecord, MessageRecord } from "./cluster/log_record.ts";

/**
 * Ids per `delivered` record, under the most a node reads (log_record.ts
 * MAX_DELIVERED_IDS); a value import of it would load cluster code on a
 * single node.
 */
const DELIVERED_PER_RECORD = 500;

/** A message kept for the log, and the placeholder it was answered with. */
export interface HeldMessage {
  readonly placeholder: MessagePosition;
  readonly record: MessageRecord;
}

/** What a committed unit of work owes the log. */
export interface Taken {
  readonly messages: readonly HeldMessage[];
  readonly records: readonly LogRecord[];
}

/** Whether `id` is a placeholder this outbox handed out. */
export function isPlaceholder(id: unknown): id is number {
  return typeof id === "number" && id < 0;
}

export class LogOutbox implements Store {
  readonly inner: Store;
  /**
   * The space this store's positions belong to: the cluster log's, the
   * same on every node (cluster/log.ts), not the node's database's.
   */
  readonly id: string;
  #messages: HeldMessage[] = [];
  #records: LogRecord[] = [];
  #nextPlaceholder = -1;

  constructor(inner: Store, id: string) {
    this.inner = inner;
    this.id = id;
  }

  /** What was kept since the last call (committed units only). */
  take(): Taken {
    const taken = { messages: this.#messages, records: this.#records };
    this.#messages = [];
    this.#records = [];
    return taken;
  }

  /** Only what is not a message (acknowledgements, deliveries). */
  takeRecords(): readonly LogRecord[] {
    const records = this.#records;
    this.#records = [];
    return records;
  }

  transaction<T>(fn: () => T): T {
    const messages = this.#messages.length;
    const records = this.#records.length;
    try {
      return this.inner.transaction(fn);
    } catch (error) {
      // Undone: nothing of it goes to the log.
      this.#messages.length = messages;
      this.#records.length = records;
      throw error;
    }
  }

  appendPublic(message: NewPublicMessage): MessagePosition {
    if (message.at !== undefined) return this.inner.appendPublic(message);
    return this.#hold({
      kind: "public",
      from: message.fromName,
      ts: message.ts,
      ...cid(message.clientId),
      body: message.body,
    });
  }

  appendMessage(message: NewMessage): MessagePosition {
    if (message.at !== undefined) return this.inner.appendMessage(message);
    const common = {
      from: message.fromName,
      ts: message.ts,
      ...cid(message.clientId),
      ...(message.e2eFingerprint === undefined
        ? {}
        : { e2e: message.e2eFingerprint }),
      body: message.body,
    };
    switch (message.kind) {
      case "public":
        return this.#hold({
          kind: "public",
          from: common.from,
          ts: common.ts,
          ...cid(message.clientId),
          body: common.body,
        });
      case "private":
        return this.#hold({
          kind: "private",
          // The router has made sure of the user; the key is a valid name.
          to: this.inner.getUser(message.toKey)?.name ?? message.toKey,
          ...common,
        });
      case "group":
        return this.#hold({
          kind: "group",
          group: this.inner.getGroup(message.groupKey)?.name ??
            message.groupKey,
          // Who the router found entitled; by name, for nodes new to them.
          members: message.recipients.map((recipient) =>
            this.inner.getUser(recipient.userKey)?.name ?? recipient.userKey
          ),
          ...common,
        });
      default: {
        const unknown: never = message;
        throw new TypeError(`Unknown message ${JSON.stringify(unknown)}`);
      }
    }
  }

  #hold(record: MessageRecord): MessagePosition {
    const id = this.#nextPlaceholder--;
    const placeholder = { id, seq: id };
    this.#messages.push({ placeholder, record });
    return placeholder;
  }

  forgetGroupSinceRelease(userKey: string, groupKey: string): number {
    return this.inner.forgetGroupSinceRelease(userKey, groupKey);
  }
  acknowledge(
    userKey: string,
    conversation: Conversation,
    seq: number,
    maxId?: number,
  ): number {
    const marked = this.inner.acknowledge(userKey, conversation, seq, maxId);
    // Nothing waited here: nothing waits on the other nodes either (they
    // apply the same log; this node showed the user what it had applied).
    if (marked > 0) {
      this.#records.push({
        kind: "ack",
        user: userKey,
        conversation,
        seq,
        ...(maxId === undefined ? {} : { maxId }),
      });
    }
    return marked;
  }

  markDelivered(messageId: number, userKey: string): boolean {
    const marked = this.inner.markDelivered(messageId, userKey);
    if (marked) {
      const last = this.#records.at(-1);
      if (
        last?.kind === "delivered" && last.user === userKey &&
        last.ids.length < DELIVERED_PER_RECORD
      ) {
        this.#records[this.#records.length - 1] = {
          ...last,
          ids: [...last.ids, messageId],
        };
      } else {
        this.#records.push({
          kind: "delivered",
          user: userKey,
          ids: [messageId],
        });
      }
    }
    return marked;
  }

  // The rest is this node's own.

  durable(): Promise<void> | null {
    return this.inner.durable();
  }
  close(): void {
    this.inner.close();
  }
  full(): boolean {
    return this.inner.full();
  }
  getUser(key: string): UserRecord | undefined {
    return this.inner.getUser(key);
  }
  listUsers(): UserRecord[] {
    return this.inner.listUsers();
  }
  ensureUser(name: string, key: string, now: Timestamp): UserRecord {
    // New here: the other nodes learn of them (messages may wait for them).
    const known = this.inner.getUser(key) !== undefined;
    const user = this.inner.ensureUser(name, key, now);
    if (!known) this.#records.push({ kind: "user", name });
    return user;
  }
  noteRegisteredFrom(key: string, addressGroup: string): void {
    // This node's only: another node weighs the account alone (an address
    // is this node's to see, and the log need not carry it).
    this.inner.noteRegisteredFrom(key, addressGroup);
  }
  bindFingerprint(key: string, fingerprint: string): BindResult {
    return this.inner.bindFingerprint(key, fingerprint);
  }
  releaseName(key: string, at: Timestamp): ReleasedName | null {
    return this.inner.releaseName(key, at);
  }
  historyStartsAfter(key: string): number {
    return this.inner.historyStartsAfter(key);
  }
  endOldKey(key: string, at: Timestamp): ReleasedName {
    return this.inner.endOldKey(key, at);
  }
  cutOldKeys(
    key: string,
    cut: KeyCut,
    at: Timestamp,
    groups: boolean,
  ): ReleasedName | null {
    // Every node makes the cut itself, at the sign-in, from the names bucket.
    return this.inner.cutOldKeys(key, cut, at, groups);
  }
  getPrekeys(key: string): StoredPrekeys | undefined {
    return this.inner.getPrekeys(key);
  }
  prekeysFingerprint(key: string): string | undefined {
    return this.inner.prekeysFingerprint(key);
  }
  putPrekeys(key: string, prekeys: StoredPrekeys | null): void {
    this.inner.putPrekeys(key, prekeys);
  }
  touchSeen(key: string, at: Timestamp): boolean {
    return this.inner.touchSeen(key, at);
  }
  touchMessage(key: string, at: Timestamp): boolean {
    return this.inner.touchMessage(key, at);
  }
  getGroup(key: string): GroupRecord | undefined {
    return this.inner.getGroup(key);
  }
  listGroups(): GroupRecord[] {
    return this.inner.listGroups();
  }
  createGroup(
    name: string,
    key: string,
    createdBy: string,
    at: Timestamp,
  ): GroupRecord {
    return this.inner.createGroup(name, key, createdBy, at);
  }
  addMember(
    groupKey: string,
    userKey: string,
    userName: string,
    at: Timestamp,
  ): boolean {
    return this.inner.addMember(groupKey, userKey, userName, at);
  }
  removeMember(groupKey: string, userKey: string, at: Timestamp): boolean {
    return this.inner.removeMember(groupKey, userKey, at);
  }
  members(groupKey: string): MemberRecord[] {
    return this.inner.members(groupKey);
  }
  groupsOf(userKey: string): GroupRecord[] {
    return this.inner.groupsOf(userKey);
  }
  membershipPeriods(groupKey: string, userKey: string): MembershipPeriod[] {
    return this.inner.membershipPeriods(groupKey, userKey);
  }
  sentWithClientId(
    fromKey: string,
    clientId: string,
  ): MessagePosition | undefined {
    return this.inner.sentWithClientId(fromKey, clientId);
  }
  lastMessageId(): number {
    return this.inner.lastMessageId();
  }
  changedElsewhere(): number {
    return this.inner.changedElsewhere();
  }
  logPosition(): number {
    return this.inner.logPosition();
  }
  setLogPosition(seq: number): void {
    this.inner.setLogPosition(seq);
  }
  requeueSince(userKey: string, since: Timestamp): number {
    // This node's own: another node's copy of a delivery it did not make
    // is still waiting there (docs/SCALING.md).
    return this.inner.requeueSince(userKey, since);
  }
  pendingFor(
    userKey: string,
    limit: number,
    afterId?: number,
  ): StoredMessage[] {
    return this.inner.pendingFor(userKey, limit, afterId);
  }
  takeDropped(userKey: string): number {
    // This node's own: each node's store gives up what its cap needs.
    return this.inner.takeDropped(userKey);
  }
  history(
    query: HistoryQuery,
    limit: number,
    maxBodyBytes?: number,
  ): StoredMessage[] {
    return this.inner.history(query, limit, maxBodyBytes);
  }
  historyFloor(query: HistoryQuery): number | null {
    return this.inner.historyFloor(query);
  }
  recordTransfer(transfer: NewTransfer): number {
    return this.inner.recordTransfer(transfer);
  }
  finishTransfer(id: number, result: TransferResult): boolean {
    return this.inner.finishTransfer(id, result);
  }
  interruptTransfers(at: Timestamp): number {
    return this.inner.interruptTransfers(at);
  }
  recentTransfers(limit: number): TransferRecord[] {
    return this.inner.recentTransfers(limit);
  }
  recordBudgetSpend(spend: BudgetSpend): void {
    this.inner.recordBudgetSpend(spend);
  }
  budgetSpendsSince(since: number): BudgetSpend[] {
    return this.inner.budgetSpendsSince(since);
  }
  dropBudgetSpends(before: number): void {
    this.inner.dropBudgetSpends(before);
  }
}

function cid(clientId: string | undefined): { cid?: string } {
  return clientId === undefined ? {} : { cid: clientId };
}
