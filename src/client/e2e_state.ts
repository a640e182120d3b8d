// This module is browser compatible.

/**
 * What a client keeps of its end-to-end conversations (issue 17 items 2, 4
 * and 5), as a value and as JSON: the ratchet session with each peer, an
 * archive of the private messages it sent and opened (so that `/history`
 * shows them: an opened message's keys are deleted, by design), and which
 * peers' keys were verified. Everything is per server key, as names are.
 *
 * The JSON is sealed at rest by e2e_state_file.ts; this module does no I/O.
 */

import { fromBase64, toBase64 } from "../crypto/bytes.ts";
import type { E2eSession } from "../crypto/e2e_envelope.ts";
import { parseServerMessage } from "../protocol/parse_server_message.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import type { RatchetState } from "../crypto/ratchet.ts";
import type { X3dhInit } from "../crypto/x3dh.ts";
import { keepAtMost, keepAtMostIn } from "./kept_keys.ts";
import {
  decodeGroupState,
  type E2eGroup,
  emptyGroupState,
  encodeGroupState,
  type GroupState,
} from "./group_sessions.ts";

/** Archived messages kept at most, the oldest dropped first. */
export const MAX_ARCHIVED = 5000;

/**
 * Characters of archived text kept at most, the oldest dropped first: a
 * peer sending the longest texts of characters JSON escapes six-fold must
 * not grow the state file past what is read back (e2e_state_file.ts) or
 * make every save slow. Ordinary messages reach MAX_ARCHIVED first.
 */
export const MAX_ARCHIVED_CHARS = 4_000_000;

/** A session with one peer, and the identity key it was agreed with. */
export interface PeerSession {
  /** The peer's raw Ed25519 identity key. */
  identity: Uint8Array<ArrayBuffer>;
  /** The session messages are sent on. */
  session: E2eSession;
  /** Earlier ones with the same key, newest first, tried on receipt. */
  previous: E2eSession[];
  /**
   * The peer reads a text with the sender's time (content type 3): their
   * bundle announced it, or they sent one. Absent: texts go as type 1,
   * which clients from before type 3 show.
   */
  senderTime?: true;
}

/** A private message this client sent or opened. */
export interface ArchivedMessage {
  server: string;
  /** The server's message id. */
  id: number;
  from: string;
  to: string;
  ts: number;
  /** The text; empty for a secret. */
  text: string;
  /** Set for a secret (e2e_sessions.ts `sendSecret`): its label. */
  label?: string;
  /**
   * A secret's bytes, base64, until the module it is for has kept them
   * (e2e_sessions.ts, Opened `taken`): a copy the server sends again (the
   * client was killed before the module saved it) is given to it again.
   */
  secret?: string;
  /**
   * SHA-256 of the envelope, base64: the archive answers only for the same
   * bytes (a server cannot pass another body off under this id). Absent
   * from files written before it was kept.
   */
  digest?: string;
}

/** An `e2e_private` notice. */
export type E2ePrivate = Extract<ServerMessage, { t: "e2e_private" }>;

/**
 * A message from a peer whose new key is not accepted yet, kept to open once
 * it is: a private one, or a group one (its sender key came end to end from
 * the new key, and is held here too, before it).
 */
export interface HeldMessage {
  message: E2ePrivate | E2eGroup;
  body: Uint8Array;
}

/**
 * A peer's identity key changed and the user has not accepted it yet
 * (`/trust`): what waits meanwhile, kept across restarts.
 */
export interface KeyChange {
  name: string;
  fingerprint: string;
  previous: string;
  /** Texts to send once accepted. */
  outgoing: { text: string; cid: string }[];
  /** Messages to open once accepted, in the order they came. */
  incoming: HeldMessage[];
}

/** The whole state. Keys of the maps: `peerKey(server, name)`. */
export interface E2eState {
  sessions: Map<string, PeerSession>;
  /** By `archiveKey(server, id)`, oldest first. */
  archive: Map<string, ArchivedMessage>;
  /** The identity fingerprint the user verified for each peer. */
  verified: Map<string, string>;
  /** Key changes not accepted yet. */
  changes: Map<string, KeyChange>;
  /** Group chains and the group archive (group_sessions.ts). */
  groups: GroupState;
  /**
   * The EKs (hex) of first messages opened from each peer, oldest first, at
   * most {@link MAX_SEEN_INITS}: a replay of one is refused even once its
   * session is gone (one made without a one-time key would open again).
   */
  seenInits: Map<string, string[]>;
}

/** First-message EKs remembered per peer. */
export const MAX_SEEN_INITS = 1000;

/**
 * First-message EKs remembered for all peers together (about 70 bytes each
 * in the state): any account can send a victim 1000 first messages (the
 * signed prekey is public), so the per-peer count alone let a classmate's
 * accounts grow the state by 66 KB each. Past it the peers remembering the
 * most are each cut to the same number, oldest first (kept_keys.ts), so a
 * peer with a few keeps them, and the peers left without any are forgotten.
 */
export const MAX_SEEN_INITS_IN_ALL = 20_000;

/** Remembers the EK (hex) of a first message opened from the peer `key`. */
export function noteInit(
  state: E2eState,
  key: string,
  ephemeral: string,
): void {
  const seen = state.seenInits.get(key) ?? [];
  if (seen.includes(ephemeral)) return;
  seen.push(ephemeral);
  if (seen.length > MAX_SEEN_INITS) seen.shift();
  state.seenInits.set(key, seen);
  keepAtMostIn(state.seenInits.values(), MAX_SEEN_INITS_IN_ALL);
  for (const [peer, kept] of state.seenInits) {
    if (kept.length === 0) state.seenInits.delete(peer);
  }
}

/**
 * Peers a session is kept with at most, the least recently used forgotten
 * first ({@link keepSession}). Each holds up to 4 sessions (the current and
 * 3 earlier), about 1.5 KB each in the state, and a session is made by any
 * account's first message: without a bound a classmate's free accounts
 * (about 10 a minute from one LAN address) grew the state file, rewritten
 * at every message, toward what is read back (e2e_state_file.ts). 1000 is
 * ten times a class; a peer forgotten starts a new session with their next
 * first message (or ours: /msg fetches their keys), and their messages on
 * the old one cannot be opened.
 */
export const MAX_PEER_SESSIONS = 1000;

/**
 * Keeps `peer` as the session with `key`, as the most recently used: a
 * message opened from them or sent to them. Past {@link MAX_PEER_SESSIONS}
 * the least recently used peers are forgotten (the map's order is use,
 * oldest first, and is saved so).
 */
export function keepSession(
  state: E2eState,
  key: string,
  peer: PeerSession,
): void {
  state.sessions.delete(key);
  state.sessions.set(key, peer);
  for (const oldest of state.sessions.keys()) {
    if (state.sessions.size <= MAX_PEER_SESSIONS) break;
    state.sessions.delete(oldest);
  }
}

/**
 * Keys of skipped messages (ratchet.ts) kept in all sessions together,
 * current and previous, with every peer. Each session keeps up to
 * MAX_SKIPPED_KEYS (2000, about 160 bytes each in the state), which any
 * peer fills with three messages (the first, then two 1000 ahead): a
 * classmate's accounts, a few hundred of them, grew the state past what
 * was read back (MAX_E2E_STATE_BYTES, then 64 MiB; the next start refused it)
 * and made every save rewrite megabytes.
 */
export const MAX_SKIPPED_KEYS_IN_ALL = 10_000;

/**
 * Keeps at most {@link MAX_SKIPPED_KEYS_IN_ALL} skipped message keys in
 * all: the sessions that hold the most are each lowered to the same number
 * (their oldest keys dropped first), so a few peers holding many lose them
 * and a peer holding a few keeps them. A message whose key went can no
 * longer be opened, as past MAX_SKIPPED_KEYS.
 */
export function limitSkippedKeys(state: E2eState): void {
  keepAtMost(
    [...state.sessions.values()].flatMap((peer) =>
      [peer.session, ...peer.previous].map((s) => s.ratchet.skipped)
    ),
    MAX_SKIPPED_KEYS_IN_ALL,
  );
}

/** What {@link shrinkE2eState} dropped. */
export interface Shrunk {
  /** Archived messages, private and group, the oldest. */
  archived: number;
  /** Keys of skipped messages, private and group, the oldest of each. */
  skipped: number;
}

/**
 * Drops part of what the state can best do without, for a state that would
 * pass what is read back (e2e_store.ts `saveE2eStateTo`): first the oldest
 * half of each archive (messages already opened and shown: only `/history`
 * loses them), then, once the archives are empty, half of the keys of
 * skipped messages (messages not come yet, which then cannot be opened),
 * oldest first as kept_keys.ts lowers them. Sessions, verifications,
 * first-message EKs and messages held for `/trust` are never dropped: the
 * first two are the conversations themselves, the EKs refuse replays, and
 * the held messages were never shown. Null when there is nothing left to
 * drop.
 */
export function shrinkE2eState(state: E2eState): Shrunk | null {
  const archived = dropOldestHalf(state.archive) +
    dropOldestHalf(state.groups.archive);
  if (archived > 0) return { archived, skipped: 0 };
  const maps = [
    ...[...state.sessions.values()].flatMap((peer) =>
      [peer.session, ...peer.previous].map((s) => s.ratchet.skipped)
    ),
    ...[...state.groups.received.values()].flatMap((chains) =>
      chains.map((chain) => chain.skipped)
    ),
  ];
  const held = () => [...new Set(maps)].reduce((n, m) => n + m.size, 0);
  const before = held();
  if (before === 0) return null;
  keepAtMost(maps, Math.floor(before / 2));
  return { archived: 0, skipped: before - held() };
}

function dropOldestHalf(map: Map<string, unknown>): number {
  const drop = Math.ceil(map.size / 2);
  let left = drop;
  for (const key of map.keys()) {
    if (left-- <= 0) break;
    map.delete(key);
  }
  return drop;
}

/** An empty state. */
export function emptyE2eState(): E2eState {
  return {
    sessions: new Map(),
    archive: new Map(),
    verified: new Map(),
    changes: new Map(),
    groups: emptyGroupState(),
    seenInits: new Map(),
  };
}

/** The key of a peer: their name key on a server. */
export function peerKey(server: string, nameKey: string): string {
  return `${server} ${nameKey}`;
}

/** The key of an archived message. */
export function archiveKey(server: string, id: number): string {
  return `${server} ${id}`;
}

/**
 * Archives `message`, dropping the oldest past {@link MAX_ARCHIVED} messages
 * or {@link MAX_ARCHIVED_CHARS} characters of text.
 */
export function archive(state: E2eState, message: ArchivedMessage): void {
  state.archive.set(archiveKey(message.server, message.id), message);
  // A secret's bytes, kept until taken, count as text.
  const size = (m: ArchivedMessage) => m.text.length + (m.secret?.length ?? 0);
  let chars = 0;
  for (const kept of state.archive.values()) chars += size(kept);
  for (const [key, oldest] of state.archive) {
    if (state.archive.size <= MAX_ARCHIVED && chars <= MAX_ARCHIVED_CHARS) {
      break;
    }
    state.archive.delete(key);
    chars -= size(oldest);
  }
}

/** The state as JSON text. */
export function encodeE2eState(state: E2eState): string {
  return JSON.stringify({
    version: 1,
    sessions: [...state.sessions].map(([key, peer]) => ({
      key,
      identity: b64(peer.identity),
      session: encodeSession(peer.session),
      previous: peer.previous.map(encodeSession),
      ...(peer.senderTime ? { sender_time: true } : {}),
    })),
    archive: [...state.archive.values()],
    verified: [...state.verified],
    changes: [...state.changes].map(([key, change]) => ({
      key,
      name: change.name,
      fingerprint: change.fingerprint,
      previous: change.previous,
      outgoing: change.outgoing,
      incoming: change.incoming.map(({ message, body }) => ({
        message,
        body: b64(body),
      })),
    })),
    groups: encodeGroupState(state.groups),
    seen_inits: [...state.seenInits],
  });
}

/**
 * A state from its JSON text.
 *
 * @throws {Error} if the text is not a state of version 1
 */
export function decodeE2eState(text: string): E2eState {
  const f = record(JSON.parse(text), "the state");
  if (f.version !== 1) throw new Error("unknown version");
  const state = emptyE2eState();
  for (const entry of array(f.sessions, "sessions")) {
    const s = record(entry, "a session");
    state.sessions.set(str(s.key, "key"), {
      identity: bytes(s.identity, "identity", 32),
      session: decodeSession(s.session),
      previous: array(s.previous, "previous").map(decodeSession),
      ...(s.sender_time === true ? { senderTime: true as const } : {}),
    });
  }
  for (const entry of array(f.archive, "archive")) {
    const a = record(entry, "an archived message");
    const message: ArchivedMessage = {
      server: str(a.server, "server"),
      id: num(a.id, "id"),
      from: str(a.from, "from"),
      to: str(a.to, "to"),
      ts: num(a.ts, "ts"),
      text: str(a.text, "text"),
      ...(a.label === undefined ? {} : { label: str(a.label, "label") }),
      ...(a.secret === undefined ? {} : { secret: str(a.secret, "secret") }),
      ...(a.digest === undefined ? {} : { digest: str(a.digest, "digest") }),
    };
    state.archive.set(archiveKey(message.server, message.id), message);
  }
  for (const entry of array(f.verified, "verified")) {
    const [key, fingerprint] = array(entry, "verified");
    state.verified.set(str(key, "key"), str(fingerprint, "fingerprint"));
  }
  // Absent from files written before changes were kept.
  for (
    const entry of f.changes === undefined ? [] : array(f.changes, "changes")
  ) {
    const c = record(entry, "a change");
    state.changes.set(str(c.key, "key"), {
      name: str(c.name, "name"),
      fingerprint: str(c.fingerprint, "fingerprint"),
      previous: str(c.previous, "previous"),
      outgoing: array(c.outgoing, "outgoing").map((o) => {
        const held = record(o, "outgoing");
        return { text: str(held.text, "text"), cid: str(held.cid, "cid") };
      }),
      incoming: array(c.incoming, "incoming").map((i) => {
        const held = record(i, "incoming");
        const message = parseServerMessage(held.message);
        // States saved before group messages were held have only
        // e2e_private ones.
        if (message.t !== "e2e_private" && message.t !== "e2e_group") {
          throw new Error("a held message must be an e2e_private or e2e_group");
        }
        return {
          message,
          body: fromBase64(str(held.body, "body")),
        };
      }),
    });
  }
  // Absent from files written before groups were end to end.
  if (f.groups !== undefined) state.groups = decodeGroupState(f.groups);
  // Absent from files written before first messages were remembered.
  for (
    const entry of f.seen_inits === undefined
      ? []
      : array(f.seen_inits, "seen_inits")
  ) {
    const [key, seen] = array(entry, "seen_inits");
    state.seenInits.set(
      str(key, "key"),
      array(seen, "seen_inits").map((ek) => str(ek, "seen_inits")),
    );
  }
  return state;
}

function encodeSession(session: E2eSession): unknown {
  const r = session.ratchet;
  const init = session.pendingInit;
  return {
    ratchet: {
      dhs: [b64(r.dhs.privateSeed), b64(r.dhs.publicRaw)],
      dhr: r.dhr === null ? null : b64(r.dhr),
      rk: b64(r.rk),
      cks: r.cks === null ? null : b64(r.cks),
      ckr: r.ckr === null ? null : b64(r.ckr),
      ns: r.ns,
      nr: r.nr,
      pn: r.pn,
      skipped: [...r.skipped].map(([id, key]) => [id, b64(key)]),
      ad: b64(r.ad),
    },
    init: init === null ? null : {
      identity: b64(init.identity),
      dh: { id: init.dh.id, key: b64(init.dh.key), sig: b64(init.dh.sig) },
      ephemeral: b64(init.ephemeral),
      signedId: init.signedId,
      oneTimeId: init.oneTimeId,
    },
    ephemeral: b64(session.ephemeral),
  };
}

function decodeSession(value: unknown): E2eSession {
  const f = record(value, "a session");
  const r = record(f.ratchet, "a ratchet");
  const [seed, pub] = array(r.dhs, "dhs");
  const ratchet: RatchetState = {
    dhs: {
      privateSeed: bytes(seed, "dhs", 32),
      publicRaw: bytes(pub, "dhs", 32),
    },
    dhr: r.dhr === null ? null : bytes(r.dhr, "dhr", 32),
    rk: bytes(r.rk, "rk", 32),
    cks: r.cks === null ? null : bytes(r.cks, "cks", 32),
    ckr: r.ckr === null ? null : bytes(r.ckr, "ckr", 32),
    ns: num(r.ns, "ns"),
    nr: num(r.nr, "nr"),
    pn: num(r.pn, "pn"),
    skipped: new Map(
      array(r.skipped, "skipped").map((entry) => {
        const [id, key] = array(entry, "skipped");
        return [str(id, "skipped"), bytes(key, "skipped", 32)];
      }),
    ),
    ad: bytes(r.ad, "ad", 128),
  };
  let init: X3dhInit | null = null;
  if (f.init !== null) {
    const i = record(f.init, "an init");
    const dh = record(i.dh, "an init's dh");
    init = {
      identity: bytes(i.identity, "init", 32),
      dh: {
        id: num(dh.id, "dh.id"),
        key: bytes(dh.key, "dh.key", 32),
        sig: bytes(dh.sig, "dh.sig", 64),
      },
      ephemeral: bytes(i.ephemeral, "init", 32),
      signedId: num(i.signedId, "signedId"),
      oneTimeId: i.oneTimeId === null ? null : num(i.oneTimeId, "oneTimeId"),
    };
  }
  return {
    ratchet,
    pendingInit: init,
    ephemeral: bytes(f.ephemeral, "ephemeral", 32),
  };
}

function b64(value: Uint8Array): string {
  return toBase64(value);
}

function bytes(
  value: unknown,
  where: string,
  length: number,
): Uint8Array<ArrayBuffer> {
  const decoded = fromBase64(str(value, where));
  if (decoded.length !== length) {
    throw new Error(`'${where}' must be ${length} bytes`);
  }
  return decoded;
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${where} must be an object`);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`'${where}' must be a list`);
  return value;
}

function str(value: unknown, where: string): string {
  if (typeof value !== "string") throw new Error(`'${where}' must be text`);
  return value;
}

function num(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new Error(`'${where}' must be an integer`);
  }
  return value;
}
