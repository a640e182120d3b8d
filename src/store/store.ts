// This module is browser compatible.

/**
 * What the server persists, as an interface with plain record types: users
 * and the identity key bound to their name, groups and membership periods,
 * every public, private and group message with who was entitled to it, and
 * file transfer records. The sqlite implementation is `sqlite_store.ts`; the
 * router depends only on this file, so it stays free of I/O and tests can
 * stand in for the store.
 *
 * Every method is synchronous (node:sqlite is), so a handler can do its
 * writes and decide its replies in one turn of the event loop. Keys are
 * name keys (`nameKey()` in `protocol/limits.ts`); names are as the user or
 * group was registered, for display.
 */

import type { Timestamp } from "../protocol/messages.ts";

/**
 * Message kinds. These strings are persisted and must remain stable: never
 * rename or reuse one; add a new kind (and a migration) instead.
 */
export const MESSAGE_KINDS = ["public", "private", "group"] as const;
export type MessageKind = typeof MESSAGE_KINDS[number];

/**
 * The outcome `interruptTransfers` records for transfers cut short by a
 * server stop. Persisted: must remain stable.
 */
export const TRANSFER_INTERRUPTED = "interrupted";

/** A user's published prekeys: opaque to the store. */
export interface StoredPrekeys {
  /** The name as its owner registered it. */
  readonly name: string;
  /** The identity key (fingerprint) they were published under. */
  readonly fingerprint: string;
  /** The bundle as JSON text (docs/PROTOCOL.md 11.1). */
  readonly bundle: string;
}

export interface UserRecord {
  /** The name as the user last registered it. */
  readonly name: string;
  readonly nameKey: string;
  /** Fingerprint of the identity key bound to the name; null while unbound. */
  readonly fingerprint: string | null;
  readonly createdAt: Timestamp;
  /** When the user was last seen online; null if never recorded. */
  readonly lastSeen: Timestamp | null;
  /** When they last sent a public, private or group message; null if never. */
  readonly lastMessageAt: Timestamp | null;
}

/**
 * What `bindFingerprint` did: bound the name now (first use), found it
 * already bound to this fingerprint, or found it bound to another one (the
 * connection must be refused).
 */
export type BindResult = "bound" | "matched" | "mismatch";

export interface GroupRecord {
  /** The name as it was created. */
  readonly name: string;
  readonly key: string;
  /** The creator's name as they registered it. */
  readonly createdBy: string;
  readonly createdAt: Timestamp;
}

/** What `Store.releaseName` took from the old key. */
export interface ReleasedName {
  /** Messages that were waiting for it, deleted undelivered. */
  readonly waiting: number;
  /** The groups it was in and left, by name, in creation order. */
  readonly groups: readonly string[];
}

/**
 * Where a cluster's names bucket says the name's current key took it over
 * (docs/PROTOCOL.md 5.9, "A released name on several nodes"): what each
 * node holds for the name up to there was an earlier key's.
 */
export interface KeyCut {
  /** The key that holds the name since. */
  readonly fingerprint: string;
  /**
   * The message log's last position when it bound the name: messages at or
   * below it were stored before this key held the name.
   */
  readonly after: number;
  /** When it bound the name (ms since the epoch, the binding node's clock). */
  readonly since: Timestamp;
}

/** A current member of a group. */
export interface MemberRecord {
  readonly userKey: string;
  /** The name as the member registered it when joining. */
  readonly userName: string;
  readonly joinedAt: Timestamp;
}

/** One stretch of time a user was a member of a group. */
export interface MembershipPeriod {
  readonly joinedAt: Timestamp;
  /** Null while they are still a member. */
  readonly leftAt: Timestamp | null;
}

/**
 * A user entitled to a message when it was sent, and whether it counts as
 * delivered already (it reached a session that does not acknowledge what it
 * shows). The others wait until acknowledged (`acknowledge`), and are what
 * `pendingFor` returns.
 */
export interface Recipient {
  readonly userKey: string;
  readonly delivered: boolean;
}

interface MessageFields {
  readonly ts: Timestamp;
  readonly fromKey: string;
  readonly fromName: string;
  /** Stored as opaque bytes: it may be end-to-end ciphertext. */
  readonly body: Uint8Array;
  /**
   * The sender's own id for the message (`cid`), kept for a while so that
   * a retry is recognised (`sentWithClientId`).
   */
  readonly clientId?: string;
  /**
   * Set for an end-to-end private message (docs/PROTOCOL.md 11.7), whose
   * body is the envelope, or group message (11.11), whose body is sealed on
   * the sender's chain: the fingerprint of the identity key its sender
   * signed in with.
   */
  readonly e2eFingerprint?: string;
  /**
   * Where to put it, when a shared log has handed out its position already
   * (issue 19: a cluster node applying the JetStream log); it must be past
   * every message stored so far. Absent: the store hands one out.
   */
  readonly at?: MessagePosition;
}

/** Where a message went, by kind. */
export type MessageTarget =
  | { readonly kind: "public" }
  | { readonly kind: "private"; readonly toKey: string }
  | { readonly kind: "group"; readonly groupKey: string };

/** A public-room message to append (see `Store.appendPublic`). */
export type NewPublicMessage = MessageFields;

/**
 * A message to append. `recipients` lists everyone entitled to it when sent,
 * not the sender: the online ones as delivered, the offline ones as not. An
 * empty list is fine for public messages, whose history is open to all.
 */
export type NewMessage = MessageFields & MessageTarget & {
  readonly recipients: readonly Recipient[];
};

/**
 * Where the store put a message: `id` is unique among all messages and only
 * grows; `seq` is its place in its conversation (the public room, one pair
 * of users, one group), starting at 1 and growing with every message there.
 * Both are the store's to hand out, so that any process sharing the store
 * agrees on them.
 */
export interface MessagePosition {
  readonly id: number;
  readonly seq: number;
}

/**
 * A conversation whose messages wait for a user until acknowledged: their
 * private conversation with another user, or a group.
 */
export type Conversation =
  | { readonly kind: "private"; readonly otherKey: string }
  | { readonly kind: "group"; readonly groupKey: string };

/** A stored message, with display names for its target. */
export type StoredMessage =
  & MessageFields
  & MessagePosition
  & (
    | { readonly kind: "public" }
    | {
      readonly kind: "private";
      readonly toKey: string;
      readonly toName: string;
    }
    | {
      readonly kind: "group";
      readonly groupKey: string;
      readonly groupName: string;
    }
  );

/**
 * Whose history to read. Public history is open to every registered user;
 * group history holds only the messages the viewer sent or was a recipient
 * of (entitled when sent), so nothing from before they joined or from while
 * they had left; private history is the conversation between two users.
 * Neither goes back past the viewer's name's last release
 * (`Store.releaseName`): those were another key's.
 * Whether the viewer may ask at all (say, only current members) is the
 * caller's rule.
 */
export type HistoryQuery =
  & (
    | { readonly kind: "public" }
    | {
      readonly kind: "group";
      readonly groupKey: string;
      readonly viewerKey: string;
    }
    | {
      readonly kind: "private";
      readonly viewerKey: string;
      readonly otherKey: string;
    }
  )
  & {
    /**
     * Only messages whose id is below this one (a message id the viewer
     * already has: ids are unique and grow with time in one store, and in
     * a cluster they are the message log's sequence, the same on every
     * node), so that a client can page back. A cursor narrows the rows the
     * query allows, never widens them. Absent: from the newest.
     */
    readonly before?: number;
    /**
     * Only messages whose id is above this one (the last one a client
     * showed before its connection dropped): what it missed. Narrows as
     * `before` does; the newest of the range still come first.
     */
    readonly after?: number;
  };

/**
 * A file transfer as offered; the file body is never stored. `id` is the
 * transfer id on the wire, unique only among transfers in flight (it starts
 * again at 1 when the server restarts).
 */
export type NewTransfer =
  & {
    readonly id: number;
    readonly fromKey: string;
    readonly name: string;
    readonly size: number;
    readonly startedAt: Timestamp;
  }
  & ({ readonly toKey: string } | { readonly groupKey: string });

export interface TransferResult {
  readonly finishedAt: Timestamp;
  /** Free text such as "complete" or a failure reason; persisted as given. */
  readonly outcome: string;
}

export interface TransferRecord {
  /** The store's own id, unique for ever. */
  readonly recordId: number;
  /** The id on the wire when it ran. */
  readonly id: number;
  readonly fromKey: string;
  readonly name: string;
  readonly size: number;
  readonly toKey: string | null;
  readonly groupKey: string | null;
  readonly startedAt: Timestamp;
  /** Null while in flight. */
  readonly finishedAt: Timestamp | null;
  readonly outcome: string | null;
}

/** Why the store failed in a way the operator can act on. */
export type StoreErrorCode =
  | "not_a_database" // the file is something else
  | "corrupt" // an SQLite file whose contents are damaged
  | "too_new" // written by a newer version of the program
  | "foreign" // an SQLite database of another application
  | "cannot_open" // missing permissions, a folder, a bad path
  | "read_only"
  | "disk_full"
  | "busy"; // another process holds the database for too long

/**
 * A failure of the store that a user can act on. The message names the
 * database path and what to do; `cause` keeps SQLite's own error.
 */
export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * What the accounts of one address spent of an hourly budget
 * (server/account_budgets.ts), kept so that a restart does not hand every
 * address a fresh budget: `count` groups created or joined, or one-time
 * prekeys of `owner` (a name key) taken, at `at` (ms since the epoch);
 * here or, in a cluster, on another node (its report).
 */
export interface BudgetSpend {
  readonly at: number;
  readonly kind: "create" | "join" | "prekey";
  readonly address: string;
  /** The prekeys' owner (name key); null for groups. */
  readonly owner: string | null;
  readonly count: number;
}

/**
 * The server's persistent memory. Methods throw on broken preconditions
 * (such as a message from a user the store does not know), which are bugs in
 * the caller, and `StoreError` for trouble with the database itself.
 */
export interface Store {
  /**
   * The id of the space this store's message ids and seqs belong to (32
   * lowercase hex digits): the same for as long as the database lives,
   * different for another database (docs/PROTOCOL.md 5.3, `store`).
   */
  readonly id: string;
  /**
   * Runs `fn` in one transaction and returns its result once committed;
   * rolls back and rethrows if it throws. The server wraps all writes caused
   * by one incoming frame in one call and sends replies after it returns, so
   * a reply confirms the writes are on disk. Calls nest: an inner call that
   * throws undoes only its own writes. `fn` must be synchronous.
   */
  transaction<T>(fn: () => T): T;
  /**
   * Resolves once every transaction committed so far is safe from a power
   * cut, or returns null when there is nothing to wait for (the store syncs
   * each commit itself, or promises only to survive a crash). The server
   * sends its replies then; deliveries to others need not wait.
   */
  durable(): Promise<void> | null;
  /** Closes the database; later calls throw. Closing twice is harmless. */
  close(): void;
  /**
   * A number that changes when another connection to the database (another
   * process: `chat admin release` beside the running server) has committed
   * since it was last asked, and stays the same for this store's own
   * writes: SQLite's `PRAGMA data_version`. Cheap enough to ask every
   * second.
   */
  changedElsewhere(): number;
  /**
   * True while the store is at its size cap and what it may delete to make
   * room (messages no one is still owed) is gone: new messages must be
   * refused until that changes. Always false without a cap.
   */
  full(): boolean;

  // Users.
  getUser(nameKey: string): UserRecord | undefined;
  /** Every user, in the order they were first seen. */
  listUsers(): UserRecord[];
  /**
   * Returns the user, creating them at `now` if new; an existing user's name
   * takes the casing they registered with this time.
   */
  ensureUser(name: string, nameKey: string, now: Timestamp): UserRecord;
  /**
   * Records the address group (server/address_group.ts's lastingGroup) a
   * new account was registered from, once: a store at its cap weighs the
   * accounts made from one address as one sender (sender_groups.ts).
   */
  noteRegisteredFrom(nameKey: string, addressGroup: string): void;
  /** Trust on first use: binds the fingerprint only while none is bound. */
  bindFingerprint(nameKey: string, fingerprint: string): BindResult;
  /**
   * Forgets the fingerprint bound to a name so the next key can bind (for
   * someone who lost their key), and with it what the store held for that
   * key only, so that the next key is handed none of it: the prekeys
   * published under it, the messages waiting for it (deleted, not
   * delivered), its groups (left at `at`), and its private and group
   * history (kept, for the others in it, but the name's own history starts
   * after the release: `history`). Public history stays open to all. Null
   * if the user is unknown or unbound.
   */
  releaseName(nameKey: string, at: Timestamp): ReleasedName | null;
  /**
   * What `releaseName` does once the name is unbound, for a name whose old
   * key stayed signed in through its release (`chat admin release` beside
   * a running server) and is now taken over by the next key: what the old
   * key was sent or sent since the release was still its own, so the
   * name's history starts here, and its waiting messages and groups go.
   */
  endOldKey(nameKey: string, at: Timestamp): ReleasedName;
  /**
   * The last message id stored before the name's current key held it (its
   * latest release, `releaseName`, `endOldKey`, `cutOldKeys`): the name's
   * messages up to it were another key's. 0 if the name was never released,
   * or is unknown.
   */
  historyStartsAfter(nameKey: string): number;
  /**
   * A cluster's `releaseName`, made on each node by the position the
   * names bucket gives (`cut`), not by this node's last message: the
   * name's history starts above `cut.after`, the deliveries of messages at
   * or below it and prekeys or a binding of another key than
   * `cut.fingerprint` go, and with `groups` the memberships begun by
   * `cut.since` end at `at`. What was stored for the name above `cut.after`
   * (the new key's) stays. Null when there was nothing to cut: the user is
   * unknown here, or this node made the cut already and bound the name to
   * that key (and, with `groups`, no membership began by `cut.since`).
   *
   * `groups` only on the node that made the binding, at once: elsewhere a
   * membership's start says when this node heard of it, not when it began
   * (a node that was down sees a leave and a join again as nothing
   * changed), so the new key's own could end; the groups bucket, which the
   * binding node's cut changes, takes the old key's out there.
   */
  cutOldKeys(
    nameKey: string,
    cut: KeyCut,
    at: Timestamp,
    groups: boolean,
  ): ReleasedName | null;
  /**
   * The end-to-end prekeys a user published (issue 17), as the server keeps
   * them (server/e2e_keys.ts), so that a first message can reach someone
   * offline across a restart; undefined if none.
   */
  getPrekeys(nameKey: string): StoredPrekeys | undefined;
  /** The fingerprint a user's prekeys were published under; undefined if none. */
  prekeysFingerprint(nameKey: string): string | undefined;
  /** Stores a user's prekeys, replacing what was there; null deletes them. */
  putPrekeys(nameKey: string, prekeys: StoredPrekeys | null): void;
  /** Records when the user was seen online; false if the user is unknown. */
  touchSeen(nameKey: string, at: Timestamp): boolean;
  /** Records when the user sent a message; false if the user is unknown. */
  touchMessage(nameKey: string, at: Timestamp): boolean;

  // Groups and membership.
  getGroup(key: string): GroupRecord | undefined;
  /** Every group in creation order. */
  listGroups(): GroupRecord[];
  /** Creates an empty group; throws if the key is taken. */
  createGroup(
    name: string,
    key: string,
    createdBy: string,
    at: Timestamp,
  ): GroupRecord;
  /** Starts a membership period; false if they already are a member. */
  addMember(
    groupKey: string,
    userKey: string,
    userName: string,
    at: Timestamp,
  ): boolean;
  /** Ends the current membership period; false if they were not a member. */
  removeMember(groupKey: string, userKey: string, at: Timestamp): boolean;
  /** Current members in join order (a member who rejoined counts from then). */
  members(groupKey: string): MemberRecord[];
  /** Groups the user is a member of now, in creation order. */
  groupsOf(userKey: string): GroupRecord[];
  /**
   * The periods the user was a member of the group, oldest first: the
   * newest that ended (at most MEMBERSHIP_PERIODS_KEPT) and the current one.
   */
  membershipPeriods(groupKey: string, userKey: string): MembershipPeriod[];

  // Messages.
  /** Stores a message and its recipients; returns where it went. */
  appendMessage(message: NewMessage): MessagePosition;
  /**
   * Stores a public-room message, the busiest write there is. Inside a
   * transaction the row may be written later, in one statement with the
   * public messages after it, but always before the transaction commits and
   * before any other statement runs (so ids still follow call order, and
   * every read sees it). `body` must stay unchanged until then. A failure to
   * write it surfaces there (from the later statement, or the commit) and
   * the transaction then cannot commit, even if that error was caught.
   * The position is the one the row gets (ids and seqs are handed out here).
   */
  appendPublic(message: NewPublicMessage): MessagePosition;
  /**
   * Where the message the user sent with this client id was stored, if it
   * was among the last SENT_IDS_KEPT messages stored with one.
   */
  sentWithClientId(
    fromKey: string,
    clientId: string,
  ): MessagePosition | undefined;
  /** The highest message id handed out so far (0 when none). */
  lastMessageId(): number;
  /**
   * The last sequence of a cluster's shared log applied to this store (0
   * when none; issue 19, docs/SCALING.md "Retention"): past the newest
   * message when the records after it were acknowledgements.
   */
  logPosition(): number;
  /** Notes that the shared log was applied up to `seq` (only grows). */
  setLogPosition(seq: number): void;
  /**
   * Deletes the user's deliveries, waiting or done, of the group's messages
   * stored since their name's last release (a server that still listed the
   * name in the group, its old key's, after `releaseName` ended the
   * membership from another process); returns how many were waiting.
   */
  forgetGroupSinceRelease(userKey: string, groupKey: string): number;
  /** Notes a message reached a recipient; false if there was nothing to mark. */
  markDelivered(messageId: number, userKey: string): boolean;
  /**
   * Marks the user's messages sent at or after `since` as not delivered again
   * (their connection died and may not have shown them); returns how many.
   */
  requeueSince(userKey: string, since: Timestamp): number;
  /**
   * The user has shown every message of the conversation up to `seq`: marks
   * those waiting for them as delivered (only up to id `maxId`, if given);
   * returns how many.
   */
  acknowledge(
    userKey: string,
    conversation: Conversation,
    seq: number,
    maxId?: number,
  ): number;
  /**
   * The oldest `limit` messages that have not reached the user yet with an
   * id above `afterId`, oldest first. Mark them delivered, or page on with
   * the last id, for the next batch.
   */
  pendingFor(userKey: string, limit: number, afterId?: number): StoredMessage[];
  /**
   * How many messages waiting for the user were given up since it was last
   * asked (the store at its cap, StoreOptions.maxBytes), and forgets it: 0
   * when none were.
   */
  takeDropped(userKey: string): number;
  /**
   * The last `limit` messages the query allows, oldest first. Read newest
   * first, it stops after the message whose body takes the bodies' total
   * past `maxBodyBytes` (that one included, so a caller can tell that older
   * ones were cut off).
   */
  history(
    query: HistoryQuery,
    limit: number,
    maxBodyBytes?: number,
  ): StoredMessage[];
  /**
   * Where `history` stops looking for `query`: a group's messages are read
   * newest first, at most MAX_HISTORY_SCAN of them below the cursor, each
   * checked against what the viewer may see, so one request's work is
   * bounded however many of them the viewer may not see. The id of the
   * oldest message it looks at when older ones are left unread; null when
   * it looks at everything below the cursor (always, for the public room
   * and private conversations, whose reads are one indexed range).
   */
  historyFloor(query: HistoryQuery): number | null;

  // File transfers.
  /**
   * Records a transfer as it starts; returns its record id. An unfinished
   * record with the same wire id can only be left over from an earlier run
   * of the server, and is closed as interrupted.
   */
  recordTransfer(transfer: NewTransfer): number;
  /** Closes the transfer in flight with this wire id; false if none. */
  finishTransfer(id: number, result: TransferResult): boolean;
  /**
   * Closes every transfer still in flight as interrupted; for the server to
   * call when it starts. Returns how many it closed.
   */
  interruptTransfers(at: Timestamp): number;
  /** The last `limit` transfers, oldest first. */
  recentTransfers(limit: number): TransferRecord[];
  /**
   * Keeps what an address spent of an hourly budget; spends older than
   * the budgets can remember are dropped now and then, and by
   * {@link Store.dropBudgetSpends} (every minute: account_budgets.ts).
   */
  recordBudgetSpend(spend: BudgetSpend): void;
  /** The budget spends kept at or after `since`, oldest first. */
  budgetSpendsSince(since: number): BudgetSpend[];
  /** Drops the budget spends kept before `before`. */
  dropBudgetSpends(before: number): void;
}
