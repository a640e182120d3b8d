// This module is browser compatible.

/**
 * The messages that travel inside sealed frames, as tagged unions.
 *
 * A message is a small JSON header (routing fields and metadata, tag `t`) plus an
 * opaque binary body (message text as UTF-8, later file chunks or end-to-end
 * ciphertext). The router reads headers only, never bodies, so bodies can become
 * end-to-end encrypted without changing the server.
 *
 * Tags on the wire never change meaning once released; add new ones instead.
 */

/** Milliseconds since the Unix epoch. */
export type Timestamp = number;

/** What a client sends. `id` is chosen by the client and echoed as `re` in the reply. */
export type ClientMessage =
  /**
   * `key`: the client's Ed25519 identity public key, raw, base64. Answered with
   * `challenge`. `compact`: live chat messages may come in the compact form
   * (docs/PROTOCOL.md, "Compact chat messages"). `acks`: this client
   * acknowledges what it shows (docs/PROTOCOL.md, "Delivery"). `varint`:
   * with both, it reads the compact forms whose numbers are varints.
   * `room_frames`: see below.
   */
  | {
    t: "register";
    id: number;
    name: string;
    key: string;
    compact?: boolean;
    acks?: boolean;
    varint?: boolean;
    /**
     * With all three above: the public room's messages may come in room
     * frames (docs/PROTOCOL.md 3.8).
     */
    room_frames?: boolean;
  }
  /** The signature over the challenge message (docs/PROTOCOL.md, "Identity"), base64. */
  | { t: "prove"; id: number; signature: string }
  // Chat messages; body: text. `cid`: the client's own id for the message
  // (CLIENT_ID_PATTERN), so that a retry is not stored twice
  // (docs/PROTOCOL.md, "Delivery").
  | { t: "say"; id: number; cid?: string } // body: text for the public room
  | { t: "msg"; id: number; to: string; cid?: string } // body: text for one user
  | { t: "gsay"; id: number; group: string; cid?: string } // body: text for a group
  | { t: "list"; id: number }
  | { t: "groups"; id: number }
  | { t: "create"; id: number; group: string }
  | { t: "join"; id: number; group: string }
  | { t: "leave"; id: number; group: string }
  | { t: "members"; id: number; group?: string }
  /**
   * Past messages: of a group you are in or your conversation with a user
   * (`target`, a group name tried first), or of the public room (no target).
   * `before`: only messages older than the one with this id (a cursor the
   * client got from an earlier page), answered only by a server whose
   * history reply said `more` (docs/PROTOCOL.md 5.4, `history`).
   * `after`: only messages newer than the one with this id (what a client
   * missed while its connection was down, after the last it showed).
   */
  | {
    t: "history";
    id: number;
    target?: string;
    limit?: number;
    before?: number;
    after?: number;
  }
  /**
   * Marks the user away with `reason` (1 to MAX_AWAY_CHARS characters), or
   * back when there is none (docs/PROTOCOL.md, "Away"). Answered with `ok`.
   */
  | { t: "away"; id: number; reason?: string }
  | { t: "bye" }
  /**
   * What the client has shown, per conversation: no reply. Only to a server
   * whose welcome said `acks` (docs/PROTOCOL.md, "Delivery").
   */
  | { t: "ack"; cursors: Cursor[] }
  /** Liveness: answered with `pong`, also before registering. */
  | { t: "ping"; id: number }
  // File transfer (docs/PROTOCOL.md, "File transfer"). Exactly one of `to` and
  // `group` is present. The reply is `file_ready` or an error.
  | FileOfferRequest
  // body: the next bytes of the file, sealed with the file key (+16 bytes)
  | { t: "file_chunk"; xfer: number; offset: number }
  // sender: all bytes sent; `sig`: a group file's signature (11.10)
  | { t: "file_end"; xfer: number; sha256: string; sig?: string }
  | { t: "file_ack"; xfer: number; received: number } // recipient: bytes on disk
  | { t: "file_done"; xfer: number; ok: boolean; reason: string } // recipient: verdict
  // Either side gives up. A sender takes back an offer not answered yet by
  // its request id (`offer`, with `xfer` 0: no transfer has that number, so a
  // server that does not know `offer` ignores it).
  | { t: "file_cancel"; xfer: number; reason: string; offer?: number }
  // A recipient's answer to an offer (docs/PROTOCOL.md, "Consent"): nothing is
  // forwarded to a recipient before it accepts.
  // `offset` and `sha256` (together, optional) claim a resume: the recipient
  // holds the file's first `offset` bytes, whose SHA-256 is `sha256`.
  | { t: "file_accept"; xfer: number; offset?: number; sha256?: string }
  | { t: "file_decline"; xfer: number }
  // End to end (docs/PROTOCOL.md, "End to end (in progress)"): the server
  // only stores and hands out prekeys.
  /** Publishes prekeys; body: a bundle as UTF-8 JSON. Answered with `e2e_keys`. */
  | { t: "e2e_keys"; id: number }
  /** Fetches a user's bundle, using up one one-time key. Answered with `e2e_bundle`. */
  | { t: "e2e_bundle"; id: number; name: string }
  /**
   * A private message end to end (docs/PROTOCOL.md 11.7); body: the envelope
   * (11.5), opaque to the server. `fingerprint`: the recipient's identity
   * key it is sealed for. Answered as `msg` is.
   */
  | {
    t: "e2e_msg";
    id: number;
    to: string;
    fingerprint: string;
    cid?: string;
  }
  /**
   * A group message end to end (docs/PROTOCOL.md 11.11); body: a message
   * sealed on the sender's chain, opaque to the server. Answered as `gsay` is.
   * `tag`: the group's members tag of the `members` reply the sender's
   * chain was given by: refused `members_changed` if the members changed
   * since.
   */
  | { t: "e2e_gsay"; id: number; group: string; cid?: string; tag?: string };

/**
 * `key_id` (32 lower-case hex digits) names the file key the sender sent each
 * recipient end to end (docs/PROTOCOL.md 11.10); `key` (64 lower-case hex
 * digits) is the file key itself, readable by the server, only for
 * recipients without end-to-end keys (5.6, "Chunk encryption"). `sha256`
 * (64 lower-case hex digits): the whole file's SHA-256 keyed with that key
 * (5.6 "Keyed SHA-256"), in an offer made again of a file whose end went
 * out before (5.6 "Resume": a recipient may have it whole). All three are
 * passed on to the recipients unchanged.
 */
export type FileOfferRequest =
  | {
    t: "file_offer";
    id: number;
    name: string;
    size: number;
    to: string;
    key?: string;
    key_id?: string;
    sha256?: string;
  }
  | {
    t: "file_offer";
    id: number;
    name: string;
    size: number;
    group: string;
    key?: string;
    key_id?: string;
    sha256?: string;
  };

export type ClientMessageType = ClientMessage["t"];

/**
 * The highest `seq` shown of one conversation: with a user (`to`) or of a
 * group. Every message there up to it has been shown or was never owed.
 */
export type Cursor =
  | { to: string; seq: number }
  | { group: string; seq: number };

/** The most cursors one `ack` may carry. */
export const MAX_ACK_CURSORS = 256;

/**
 * A chat message's client id (`cid`): 16 to 32 lowercase hex digits, 64 to
 * 128 random bits, chosen by the client once per message.
 */
export const CLIENT_ID_PATTERN = /^[0-9a-f]{16,32}$/;

/** One online user as `/list` shows it. */
export interface UserInfo {
  name: string;
  /** When they last sent a public, private or group message; null if never. */
  lastMessageAt: Timestamp | null;
  /** Present while the user is away: the reason they gave. */
  away?: string;
  /**
   * The fingerprint of the identity key the name is bound to (`SHA256:...`),
   * when the server knows it (docs/PROTOCOL.md, "Away" and "Ignoring").
   */
  fingerprint?: string;
}

export interface GroupInfo {
  name: string;
  members: number;
  /** Present when the requester is a member (docs/PROTOCOL.md, `groups`). */
  joined?: true;
}

export interface GroupMembers {
  group: string;
  /** Member names in the order they joined (at most MAX_MEMBERS_SHOWN). */
  members: string[];
  /** The subset of `members` that is online now. */
  online: string[];
  /** Members left out of `members` to keep the reply small. */
  more?: number;
  /**
   * Changes whenever the group's members change (16 hex digits): an
   * `e2e_gsay` that names it is refused if they changed since.
   */
  tag?: string;
}

/** What the server sends. */
export type ServerMessage =
  /**
   * `acks`: the server takes acknowledgements; `cids`: it stores a chat
   * message's `cid` and answers a retry with the original's position
   * instead of storing it again (docs/PROTOCOL.md, "Delivery"). `reqs`:
   * every message of its `history` answers names the request with `req`
   * (docs/PROTOCOL.md 5.4), so history without `req` answers nothing. `store`:
   * the id of the space the ids and seqs of chat messages belong to
   * (docs/PROTOCOL.md 5.3): a client that moves to a server announcing
   * another one knows that the positions it has seen mean nothing there.
   * `own_after`: the name was released (`chat admin release`) and its
   * messages with an `id` up to this one were sent by another key before
   * this one held it (docs/PROTOCOL.md 5.3): not this user's own lines.
   * `last_id`: the newest message id the server had stored when it
   * welcomed this connection (docs/PROTOCOL.md 5.3): what comes after it
   * reaches the connection live or is missed, so it is where a catch-up
   * after the next drop starts.
   */
  | {
    t: "welcome";
    re: number;
    name: string;
    text: string;
    acks?: true;
    cids?: true;
    reqs?: true;
    store?: string;
    own_after?: number;
    last_id?: number;
  }
  /**
   * 32 random bytes, base64, for the client to sign with its identity key.
   * `proof`: the identity-proof revision the server verifies (2: the signed
   * message includes the key); absent from servers before it.
   */
  | { t: "challenge"; re: number; nonce: string; proof?: number }
  /**
   * `id` and `seq`: where the message of a `say`, `msg` or `gsay` that
   * carried a `cid` was stored (the first time, for a retry). `more`: the
   * end of a `history` reply that left older messages out (ask again with
   * `before`). `before`: where such a reply stopped looking, when that is
   * below every message it sent (a group's, past MAX_HISTORY_SCAN).
   * `name`: the recipient of a `msg` or `e2e_msg`, or the group of a `gsay`
   * or `e2e_gsay`, as registered (the sender may have typed it in another
   * case).
   */
  | {
    t: "ok";
    re: number;
    text: string;
    id?: number;
    seq?: number;
    more?: true;
    before?: number;
    name?: string;
  }
  | { t: "error"; re: number | null; code: ErrorCode; text: string }
  // Chat messages; body: text. `history` marks one sent earlier (missed while
  // offline, or asked for with `history`; HistoryMark); `to` names the
  // recipient of a private message in history when that is not the viewer.
  // `id` and `seq` (ChatPosition) come from servers that keep a store.
  | (
    & { t: "public"; from: string; ts: Timestamp }
    & HistoryMark
    & ChatPosition
  )
  | (
    & {
      t: "private";
      from: string;
      ts: Timestamp;
      to?: string;
    }
    & HistoryMark
    & ChatPosition
  )
  | (
    & {
      t: "group";
      group: string;
      from: string;
      ts: Timestamp;
    }
    & HistoryMark
    & ChatPosition
  )
  /** `more`: how many were left out to keep the reply small. */
  | { t: "users"; re: number; users: UserInfo[]; more?: number }
  | { t: "groups"; re: number; groups: GroupInfo[]; more?: number }
  /** `more`: groups left out to keep the reply small. */
  | { t: "members"; re: number; groups: GroupMembers[]; more?: number }
  | { t: "presence"; name: string; online: boolean }
  | { t: "membership"; group: string; name: string; joined: boolean }
  | { t: "bye"; reason: ByeReason; text: string }
  | { t: "pong"; re: number }
  /**
   * A sign of life while the server holds this connection's replies and
   * reads nothing more from it (a cluster node waiting for its message log,
   * docs/PROTOCOL.md 5.7): it answers nothing.
   */
  | { t: "alive" }
  // File transfer. To the sender:
  /**
   * Sent once every recipient answered (or the answer timeout passed):
   * `recipients` accepted; `declined` (left out when empty) did not.
   */
  | {
    t: "file_ready";
    re: number;
    xfer: number;
    recipients: string[];
    declined?: Declined[];
    /**
     * Recipients that did not take the file and are left out of `declined`
     * (the header's size limit), counted; absent when none are.
     */
    declined_more?: number;
    /**
     * Recipients that accepted and are left out of `recipients` (the
     * header's size limit), counted; absent when none are. `resume` is then
     * absent: the data starts at 0.
     */
    accepted_more?: number;
    /** Recipients that claimed to hold a first part of the file (resume). */
    resume?: ResumeClaim[];
  }
  | { t: "file_progress"; xfer: number; acked: number } // slowest recipient
  | {
    t: "file_result";
    xfer: number;
    name: string;
    ok: boolean;
    reason: string;
    /** The recipient disconnected: offering the file again may resume it. */
    resumable?: true;
  }
  // To recipients:
  | FileOfferNotice
  | { t: "file_chunk"; xfer: number; offset: number } // body: bytes
  | { t: "file_end"; xfer: number; sha256: string; sig?: string }
  // To either side: the transfer (or this recipient's part of it) is over.
  // `resumable`: it broke (a side disconnected), not cancelled: a recipient
  // may keep what it has for a later offer of the same file.
  // `withdrawn`: the sender took back its offer before this recipient's
  // part began (the recipient had not answered, or had not had the reply).
  | {
    t: "file_cancel";
    xfer: number;
    reason: string;
    resumable?: true;
    withdrawn?: true;
  }
  // End to end. `one_time`: how many one-time keys the server now holds.
  | { t: "e2e_keys"; re: number; one_time: number }
  /**
   * Body: the bundle as UTF-8 JSON, with at most one one-time key;
   * `fingerprint`: the identity key the publisher signed in with.
   */
  | { t: "e2e_bundle"; re: number; name: string; fingerprint: string }
  /**
   * A private message end to end (docs/PROTOCOL.md 11.7); body: the
   * envelope. `fingerprint`: the identity key the sender signed in with.
   * `history` and `to` as in `private`.
   */
  | (
    & {
      t: "e2e_private";
      from: string;
      fingerprint: string;
      ts: Timestamp;
      to?: string;
    }
    & HistoryMark
    & ChatPosition
  )
  /**
   * A group message end to end (docs/PROTOCOL.md 11.11); body: the sealed
   * message. `fingerprint`: the identity key the sender signed in with.
   * `history` as in `group`.
   */
  | (
    & {
      t: "e2e_group";
      group: string;
      from: string;
      fingerprint: string;
      ts: Timestamp;
    }
    & HistoryMark
    & ChatPosition
  );

/**
 * A chat message from the past (docs/PROTOCOL.md 5.4, 5.5): `history`
 * marks one sent earlier, missed while offline or asked for with a
 * `history` request; `req`, only with `history`, names the request whose
 * answer it is (absent on what waited for the user, and from servers
 * before it). Not a reply, so not `re`: the request's reply is the `ok`
 * after it. A union, so that no code can make a live message with `req`
 * (which the compact form, 4.1, would drop).
 */
export type HistoryMark =
  | { history?: never; req?: never }
  | { history: true; req?: number };

/**
 * Where the server stored a chat message (docs/PROTOCOL.md, "Delivery"):
 * `id` is unique among all its messages and grows with each one; `seq` is
 * the message's place in its conversation (the public room, two users, a
 * group), growing with each message there. Both or neither.
 */
export interface ChatPosition {
  id?: number;
  seq?: number;
}

export interface FileOfferNotice {
  t: "file_offer";
  xfer: number;
  from: string;
  /** Present when the file was sent to a group. */
  group?: string;
  name: string;
  size: number;
  /**
   * The sender's identity-key fingerprint (`SHA256:...`), as the server bound
   * it to `from`. Sent by servers that ask for consent.
   */
  fingerprint?: string;
  /**
   * Milliseconds the server waits for `file_accept` or `file_decline` before
   * counting the recipient as declined. Its presence means the server asks:
   * an offer without it comes from an older server that sends at once.
   */
  timeout?: number;
  /**
   * The file key the chunks are sealed with, as the sender's offer gave it
   * (64 lower-case hex digits; src/client/file_key.ts reads it): only for
   * recipients without end-to-end keys, readable by the server.
   */
  key?: string;
  /**
   * The id of the file key the sender sent this recipient end to end
   * (32 lower-case hex digits; docs/PROTOCOL.md 11.10).
   */
  key_id?: string;
  /**
   * The whole file's SHA-256 keyed with the file key (64 lower-case hex
   * digits), as the sender's offer gave it: in an offer made again of a
   * file whose end went out before, which a recipient that has that very
   * file whole claims whole (docs/PROTOCOL.md 5.6 "Resume").
   */
  sha256?: string;
}

/** A recipient that did not take a file, and why ("declined", "did not answer", ...). */
export interface Declined {
  name: string;
  reason: string;
}

/** A recipient holds the first `offset` bytes of the file, of this SHA-256. */
export interface ResumeClaim {
  name: string;
  offset: number;
  sha256: string;
}

export type ServerMessageType = ServerMessage["t"];

/** Why the server ends a session. Persisted in logs: do not reorder or rename. */
export type ByeReason = "quit" | "shutdown" | "replaced" | "violation";

/**
 * Error codes that may cross the wire. Anything else is logged on the server and
 * shown to the user only as `internal`. Stable: never change a code's meaning.
 */
export const ERROR_CODES = [
  "bad_request", // a message the server could not understand
  "not_registered", // a command before registering a name
  "already_registered", // a second register on one connection
  "invalid_name", // a user or group name outside the naming rule
  "name_taken", // someone online already uses that name
  "identity", // the name belongs to another identity key, or the proof failed
  "no_such_user", // unknown or offline user
  "no_such_group",
  "group_exists",
  "not_member", // group command by a non-member
  "already_member",
  "too_long", // message text over the limit
  "empty", // message text with nothing in it
  "limit", // a server limit (groups, members, connections) was reached
  "slow_down", // rate limit
  "too_large", // a file over the server's size limit
  "no_such_transfer",
  "declined", // no recipient accepted a file offer
  "no_keys", // the user has published no end-to-end keys
  "withdrawn", // the sender took back its file offer before the reply
  "members_changed", // a group's members changed since the `members` named
  "internal",
] as const;

export type ErrorCode = typeof ERROR_CODES[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" &&
    (ERROR_CODES as readonly string[]).includes(value);
}

/**
 * The room key a client that reads room frames gets over its own channel
 * (docs/PROTOCOL.md 3.8). Not a ServerMessage: the receiving channel takes
 * it (src/transport/secure_channel.ts), and its reader never sees it.
 */
export interface RoomKeyMessage {
  t: "room_key";
  /** The room key, 32 bytes, base64. */
  key: string;
  epoch: number;
  /** The counter of the next room frame this client gets. */
  next: number;
  /** This client's room-frame MAC key, 32 bytes, base64 (its own alone). */
  mac_key: string;
}
