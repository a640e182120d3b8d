// This module is browser compatible.

/**
 * Where the nodes of a cluster meet on NATS (issue 19): the subjects of the
 * bus and the names of the key-value buckets. A name may hold '.', which
 * separates subject tokens and key parts, so names travel in subjects and
 * keys as the hex of their name key: `chat.user.616c696365` is alice.
 *
 * These are persisted in a running cluster: every node must agree on them,
 * so they do not change meaning.
 */

/**
 * What concerns one user (a sign-in elsewhere, a transfer's messages), to
 * the nodes they are signed in on.
 */
export function userSubject(nameKey: string): string {
  return `chat.user.${token(nameKey)}`;
}

/**
 * What a recipient's node says about a transfer run on `node` (its
 * sender's node): one subject per transfer, under the node's.
 */
export function transferSubject(node: string, xfer: number): string {
  return `chat.xfer.${node}.${xfer}`;
}

/** What a node listens to for answers about the transfers it runs. */
export function nodeTransfersSubject(node: string): string {
  return `chat.xfer.${node}.*`;
}

/** A node's report of its addresses (address_report.ts), every second. */
export function limitsSubject(node: string): string {
  return `chat.limits.${node}`;
}

/** What every node listens to for the others' address reports. */
export const ALL_LIMITS_SUBJECT = "chat.limits.*";

/** Groups and their members: key `<group token>`, value GroupRecord. */
export const GROUPS_BUCKET = "chat_groups";

/** The groups key of a group. */
export function groupRecordKey(groupKey: string): string {
  return token(groupKey);
}

/** Who is signed in where: key `<name token>.<node>`, value PresenceRecord. */
export const PRESENCE_BUCKET = "chat_presence";

/** Which nodes are alive: key the node id, rewritten every TTL/3, with TTL. */
export const NODES_BUCKET = "chat_nodes";

/**
 * Name -> identity key bindings: key `<name token>`, value the fingerprint;
 * and who holds the names of each skeleton: key `skeleton.<skeleton token>`,
 * value SkeletonClaims (skeleton_claims.ts).
 */
export const NAMES_BUCKET = "chat_names";

/**
 * End-to-end prekey bundles: key `<name token>`, value
 * `{"name","fingerprint","bundle"}` (cluster/prekeys.ts).
 */
export const PREKEYS_BUCKET = "chat_prekeys";

/** The prekeys key of a user. */
export function prekeysKey(nameKey: string): string {
  return token(nameKey);
}

/** The presence key of a user on a node. */
export function presenceKey(nameKey: string, node: string): string {
  return `${token(nameKey)}.${node}`;
}

/** The names key of a user. */
export function nameBindingKey(nameKey: string): string {
  return token(nameKey);
}

/**
 * The name key a names key binds (nameBindingKey), or null when `key` is
 * not one (a skeleton's, say).
 */
export function nameKeyOfBinding(key: string): string | null {
  if (!/^(?:[0-9a-f]{2})+$/.test(key)) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.fromHex(key),
    );
  } catch {
    return null;
  }
}

/** The names key saying the bindings made before skeletons were claimed are. */
export const SKELETONS_RECORDED_KEY = "skeleton.recorded";

/** The names key saying the groups made before skeletons were claimed are. */
export const GROUP_SKELETONS_RECORDED_KEY = "skeleton.groups-recorded";

/**
 * The names key of who holds the names of a skeleton
 * (protocol/name_skeleton.ts): two tokens, so never a name's key.
 */
export function skeletonClaimsKey(skeleton: string): string {
  return `skeleton.${token(skeleton)}`;
}

/**
 * The shared message log (JetStream stream, log.ts): every stored chat
 * message and every change to who waits for one, in one order.
 */
export const LOG_STREAM = "CHAT_LOG";

/** Every subject of the log. */
export const LOG_SUBJECTS = "chat.log.>";

/** Public-room messages in the log. */
export const ROOM_LOG_SUBJECT = "chat.log.room";

/** Private messages to `toKey` from `fromKey` in the log. */
export function logPairSubject(toKey: string, fromKey: string): string {
  return `chat.log.dm.${token(toKey)}.${token(fromKey)}`;
}

/** Messages to a group in the log. */
export function logGroupSubject(groupKey: string): string {
  return `chat.log.group.${token(groupKey)}`;
}

/** What a user acknowledged or was delivered, in the log. */
export function logUserSubject(userKey: string): string {
  return `chat.log.user.${token(userKey)}`;
}

/** A node's id: letters and digits only, so that it is one token. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9]{1,64}$/;

function token(nameKey: string): string {
  return new TextEncoder().encode(nameKey).toHex();
}
