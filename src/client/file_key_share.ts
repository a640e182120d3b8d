// This module is browser compatible.

/**
 * File keys end to end (issue 17 items 2 and 3; docs/PROTOCOL.md 11.10): the
 * sender sends each recipient the offer's file key as a secret over the 1:1
 * end-to-end channel (e2e_sessions.ts `sendSecret`) before the offer, and the
 * offer carries only the key's id. The secret also carries the file's name,
 * which the offer then leaves out (HIDDEN_FILE_NAME), so the server sees a
 * file's size, sender and recipients, never its name; and its size, so a
 * server that hands a key over with an offer of another size makes the
 * receiver refuse the file. The offer's readable `key` (and the real name) is
 * kept only for recipients without end-to-end keys, and the sender is told
 * that the host can read that file.
 */

import { concatBytes, toHex, utf8Encode } from "../crypto/bytes.ts";
import { FILE_KEY_BYTES } from "../crypto/file_cipher.ts";
import {
  FILE_VERIFY_KEY_BYTES,
  type FileSigner,
  newFileSigner,
} from "../crypto/file_signature.ts";
import {
  FILE_KEY_ID_PATTERN,
  NAME_PATTERN,
  nameKey,
} from "../protocol/limits.ts";
import type { FileOfferNotice } from "../protocol/messages.ts";
import { type ChatClient, newClientId, type Reply } from "./chat_client.ts";
import { fileKeyForOffer, fileKeyOfOffer } from "./file_key.ts";
import { pendingOf, SEND_WAIT_MS } from "./answer_within.ts";
import { withPatience } from "./with_patience.ts";
import { keylessFileLine, sendsInTheClear } from "./keyless_members.ts";
import {
  MAX_NEW_NAMED,
  membersOf,
  namesList,
  otherGroupText,
} from "./members_reply.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/** A file key's secret is labelled this, then the key id (11.10). */
export const FILE_SECRET_LABEL_PREFIX = "file ";

/** The first byte of a file key's secret: its layout. */
export const FILE_SECRET_VERSION = 1;

/**
 * The first byte of a group file's secret, which also carries the group's
 * name and the key that verifies the sender's signature on `file_end`
 * (file_signature.ts).
 */
export const GROUP_FILE_SECRET_VERSION = 2;

/** version (1) || key (32) || u64be size (8), then the name's UTF-8. */
export const FILE_SECRET_HEAD_BYTES = 1 + FILE_KEY_BYTES + 8;

/**
 * version (2) || key (32) || u64be size (8) || verify key (32) || u8 length
 * of the group's name, then the group's name (ASCII) and the file's name.
 */
export const GROUP_FILE_SECRET_HEAD_BYTES = FILE_SECRET_HEAD_BYTES +
  FILE_VERIFY_KEY_BYTES + 1;

/** A secret is at most this many bytes (11.7). */
const MAX_SECRET_BYTES = 1024;

/**
 * A file name in a secret is 1 to this many bytes of UTF-8: a secret is at
 * most 1,024 bytes (11.7). A group file's secret leaves less
 * ({@link maxSecretFileNameBytes}).
 */
export const MAX_SECRET_FILE_NAME_BYTES = MAX_SECRET_BYTES -
  FILE_SECRET_HEAD_BYTES;

/**
 * What an offer whose name travels end to end says in its readable `name`
 * (the server needs one that is not empty). Receivers ignore it.
 */
export const HIDDEN_FILE_NAME = "(end-to-end)";

// ---- End of protocol constants. ----

/**
 * How long a receiver waits for a file's key to arrive end to end, counted
 * from when the offer came (or from its turn, if given no time it came).
 */
export const FILE_KEY_WAIT_MS = 10_000;

/**
 * How long an offer whose turn comes after its FILE_KEY_WAIT_MS are over
 * still waits for its key: a key opened with the lines just before it. Not
 * the whole wait again: each offer holds the lines after it while it waits
 * (in_turn.ts), so eight offers of a peer's whose keys never come, waiting
 * 10 s each in turn, held everyone's lines 80 s (and one more offer for
 * each refused, for as long as the peer liked). Nor given while another
 * offer of the same sender's had its key fail to come within the last
 * FILE_KEY_WAIT_MS (FileKeyInbox `take`): a second each, a burst of offers
 * held the sender's lines after them a second more for each.
 */
export const KEY_WAIT_IN_TURN_MS = 1_000;

/**
 * How long an offer's place among the lines shown (in_turn.ts `hold`) holds
 * the lines that came after it, at most, counted once those before it are
 * shown: the wait for its key, and a little more. The offer is normally
 * shown (asked about, or refused: its key did not come) well before; past
 * this, the lines after it go on and the offer is shown when it can be.
 */
export const OFFER_PLACE_MS = FILE_KEY_WAIT_MS + 2_000;

/**
 * Keys kept for offers not seen yet (past it, the oldest of the sender with
 * the most kept is dropped: FileKeyInbox `#dropOne`).
 */
const MAX_WAITING_KEYS = 256;

/**
 * Senders whose offers' keys lately failed to come, kept to cut the next
 * ones' second in turn (FileKeyInbox `#lastMissed`); past it, the one noted
 * longest ago is forgotten (its offers get their second again).
 */
const MAX_MISSED_SENDERS = 256;

/**
 * The server's reply to an offer (`declined`, say, 6.2) with the file named
 * as its sender knows it: the server names it by the offer's `name`, which is
 * HIDDEN_FILE_NAME when the name went end to end.
 */
export function withRealName(
  text: string,
  offered: string,
  name: string,
): string {
  return offered === name ? text : text.replace(offered, name);
}

/** A fresh key id for an offer: 16 random bytes, 32 lower-case hex digits. */
export function newFileKeyId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** The label of the secret that carries the key `keyId`. */
export function fileSecretLabel(keyId: string): string {
  return FILE_SECRET_LABEL_PREFIX + keyId;
}

/** The key id a secret's label names, or null if it is not a file key's. */
export function keyIdOfLabel(label: string): string | null {
  if (!label.startsWith(FILE_SECRET_LABEL_PREFIX)) return null;
  const id = label.slice(FILE_SECRET_LABEL_PREFIX.length);
  return FILE_KEY_ID_PATTERN.test(id) ? id : null;
}

/** What a group file's secret adds: whom it went to, and who signs it. */
export interface GroupFileSecret {
  /** The group the sender offered it to (a receiver checks the offer's). */
  group: string;
  /** The raw Ed25519 key that verifies the sender's `file_end`. */
  verifyKey: Uint8Array;
}

/**
 * The secret that carries `key` for the file `name` of `size` bytes; for a
 * group file, also the group's name and the key that verifies its sender's
 * `file_end` (version 2; version 1 without).
 */
export function encodeFileSecret(
  key: Uint8Array,
  name: string,
  size: number,
  toGroup?: GroupFileSecret,
): Uint8Array<ArrayBuffer> {
  if (key.length !== FILE_KEY_BYTES) {
    throw new RangeError(`A file key is ${FILE_KEY_BYTES} bytes`);
  }
  const nameBytes = utf8Encode(name);
  const maxName = maxSecretFileNameBytes(toGroup?.group);
  if (nameBytes.length === 0 || nameBytes.length > maxName) {
    throw new RangeError(
      `A file name sent end to end is 1 to ${maxName} bytes of UTF-8`,
    );
  }
  const sizeBytes = new Uint8Array(8);
  new DataView(sizeBytes.buffer).setBigUint64(0, BigInt(size));
  if (toGroup === undefined) {
    return concatBytes(
      Uint8Array.of(FILE_SECRET_VERSION),
      key,
      sizeBytes,
      nameBytes,
    );
  }
  if (toGroup.verifyKey.length !== FILE_VERIFY_KEY_BYTES) {
    throw new RangeError(
      `A file's verify key is ${FILE_VERIFY_KEY_BYTES} bytes`,
    );
  }
  if (!NAME_PATTERN.test(toGroup.group)) {
    throw new RangeError(`Not a group name: '${toGroup.group}'`);
  }
  return concatBytes(
    Uint8Array.of(GROUP_FILE_SECRET_VERSION),
    key,
    sizeBytes,
    toGroup.verifyKey,
    Uint8Array.of(toGroup.group.length),
    utf8Encode(toGroup.group),
    nameBytes,
  );
}

/**
 * The longest file name (bytes of UTF-8) a secret holds: for a file to
 * `group`, less by the verify key and the group's name.
 */
export function maxSecretFileNameBytes(group?: string): number {
  return group === undefined
    ? MAX_SECRET_FILE_NAME_BYTES
    : MAX_SECRET_BYTES - GROUP_FILE_SECRET_HEAD_BYTES -
      utf8Encode(group).length;
}

/** A file key, its name and (a group file) its sender's verify key. */
export interface FileSecret {
  key: Uint8Array<ArrayBuffer>;
  name: string;
  /** Version 2: `file_end` must carry a signature this key verifies. */
  verifyKey?: Uint8Array<ArrayBuffer>;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The file key and name in `secret` if it was made for an offer of
 * `offer.size` bytes, to the offer's group or to its receiver alone, or why
 * not. The name is the sender's, authenticated end to end; the offer's
 * readable `name` plays no part.
 */
export function fileKeyOfSecret(
  secret: Uint8Array,
  offer: FileOfferNotice,
): FileSecret | { error: string } {
  const malformed = { error: "its key is malformed" };
  const toGroup = secret[0] === GROUP_FILE_SECRET_VERSION;
  if (!toGroup && secret[0] !== FILE_SECRET_VERSION) return malformed;
  let head = FILE_SECRET_HEAD_BYTES;
  let group: string | undefined;
  if (toGroup) {
    const length = secret[GROUP_FILE_SECRET_HEAD_BYTES - 1] ?? 0;
    head = GROUP_FILE_SECRET_HEAD_BYTES + length;
    group = new TextDecoder("latin1").decode(
      secret.subarray(GROUP_FILE_SECRET_HEAD_BYTES, head),
    );
    if (!NAME_PATTERN.test(group)) return malformed;
  }
  if (secret.length <= head || secret.length > MAX_SECRET_BYTES) {
    return malformed;
  }
  // The server writes the offer's `group`: a file the sender sent to one
  // group is not shown as sent privately, or to another group.
  if (group === undefined && offer.group !== undefined) {
    return {
      error:
        `its key came without the key that checks ${offer.from}'s signature, which a group file needs`,
    };
  }
  if (
    group !== undefined &&
    (offer.group === undefined || nameKey(offer.group) !== nameKey(group))
  ) {
    return {
      error:
        `the key sent for it end to end is for a file to group ${group} (the server may have relabelled it)`,
    };
  }
  const size = new DataView(
    secret.buffer,
    secret.byteOffset + 1 + FILE_KEY_BYTES,
    8,
  ).getBigUint64(0);
  if (size !== BigInt(offer.size)) {
    return {
      error:
        "the key sent for it end to end is for another file (the server may have swapped them)",
    };
  }
  let name: string;
  try {
    name = strictUtf8.decode(secret.subarray(head));
  } catch {
    return malformed;
  }
  const key = secret.slice(1, 1 + FILE_KEY_BYTES);
  return toGroup
    ? {
      key,
      name,
      verifyKey: secret.slice(
        FILE_SECRET_HEAD_BYTES,
        FILE_SECRET_HEAD_BYTES + FILE_VERIFY_KEY_BYTES,
      ),
    }
    : { key, name };
}

/**
 * File keys received end to end, by key id, until their offer asks for them.
 * Each key is handed out once.
 */
export class FileKeyInbox {
  readonly #keys = new Map<string, { from: string; secret: Uint8Array }>();
  readonly #waiters = new Map<string, () => void>();
  /**
   * When (performance.now()) an offer's key last failed to come within its
   * wait, by sender (nameKey), oldest first; at most MAX_MISSED_SENDERS.
   * Within FILE_KEY_WAIT_MS of it, that sender's offers whose own wait is
   * over get no KEY_WAIT_IN_TURN_MS more (`take`). By sender, not one for
   * all: each sender's offers hold only that sender's lines (in_turn.ts
   * lanes), and one for all let a sender whose keys never come take the
   * second from every other sender's offers.
   */
  readonly #lastMissed = new Map<string, number>();

  /**
   * Takes a secret opened from `from` if its label is a file key's; false
   * (nothing kept) if it is for something else.
   */
  deliver(from: string, label: string, secret: Uint8Array): boolean {
    const id = keyIdOfLabel(label);
    if (id === null) return false;
    this.#keys.delete(id);
    this.#keys.set(id, { from, secret: secret.slice() });
    if (this.#keys.size > MAX_WAITING_KEYS) this.#dropOne();
    this.#waiters.get(id)?.();
    return true;
  }

  /**
   * Drops the oldest key of the sender who sent the most of those kept:
   * dropping the oldest of all let one peer's stream of keys for offers
   * that never come (20 a second, the server's rate) push out another's
   * key before its offer asked for it (an offer asks once the lines before
   * it are shown: up to 10 s behind another's offer).
   */
  #dropOne(): void {
    const counts = new Map<string, number>();
    let most = "";
    let mostCount = 0;
    for (const { from } of this.#keys.values()) {
      const sender = nameKey(from);
      const count = (counts.get(sender) ?? 0) + 1;
      counts.set(sender, count);
      if (count > mostCount) [most, mostCount] = [sender, count];
    }
    for (const [id, { from }] of this.#keys) {
      if (nameKey(from) === most) {
        this.#keys.delete(id);
        return;
      }
    }
  }

  /** Notes that an offer of `from`'s key did not come within its wait. */
  #missed(from: string): void {
    const sender = nameKey(from);
    this.#lastMissed.delete(sender);
    this.#lastMissed.set(sender, performance.now());
    if (this.#lastMissed.size > MAX_MISSED_SENDERS) {
      const oldest = this.#lastMissed.keys().next();
      if (!oldest.done) this.#lastMissed.delete(oldest.value);
    }
  }

  /**
   * The key of `offer` (its `key_id`), waiting up to `waitMs` for it to
   * arrive (0: only if it is here), or why there is none (`missing`: it
   * did not come, rather than came unfit). `since`: when the offer came
   * (performance.now()); the wait counts from there, and is KEY_WAIT_IN_TURN_MS
   * at least (`keyWaitLeft`), unless another offer of the same sender's
   * had its key not come within the last FILE_KEY_WAIT_MS: offers whose keys
   * never come, sent at once, each held the lines after it that second in
   * turn. Another sender's offers do not count: they hold only their own
   * sender's lines, and must not cost an honest sender its second.
   */
  async take(
    offer: FileOfferNotice,
    waitMs = FILE_KEY_WAIT_MS,
    since?: number,
  ): Promise<FileSecret | { error: string; missing?: true }> {
    const id = offer.key_id;
    if (id === undefined) return { error: "the offer names no key" };
    if (!this.#keys.has(id) && waitMs > 0) {
      const now = performance.now();
      const missed = this.#lastMissed.get(nameKey(offer.from));
      const missedLately = missed !== undefined &&
        now - missed < FILE_KEY_WAIT_MS;
      const arrived = Promise.withResolvers<void>();
      this.#waiters.set(id, arrived.resolve);
      const timer = setTimeout(
        arrived.resolve,
        keyWaitLeft(waitMs, since, now, missedLately ? 0 : undefined),
      );
      await arrived.promise;
      clearTimeout(timer);
      this.#waiters.delete(id);
    }
    const held = this.#keys.get(id);
    if (held === undefined) {
      if (waitMs > 0) this.#missed(offer.from);
      return {
        error: waitMs > 0
          ? `its key did not arrive end to end from ${offer.from} within ${
            Math.round(waitMs / 1000)
          } s (the server may have dropped it)`
          : `its key has not arrived end to end from ${offer.from}`,
        missing: true,
      };
    }
    this.#keys.delete(id);
    if (nameKey(held.from) !== nameKey(offer.from)) {
      return {
        error:
          `the key named by the offer came from ${held.from}, not from ${offer.from}`,
      };
    }
    return fileKeyOfSecret(held.secret, offer);
  }
}

/**
 * An offer's key, the file's name (from the end-to-end secret, else the
 * offer's) and whether the server could read them, or why there is none.
 */
export type ReceivedKey =
  | {
    key: Uint8Array<ArrayBuffer>;
    name: string;
    readable: false;
    /** A group file: `file_end` must be signed by this key (its sender's). */
    verifyKey?: Uint8Array<ArrayBuffer>;
  }
  | {
    key: Uint8Array<ArrayBuffer>;
    name: string;
    readable: true;
    /**
     * What to tell the user (the host of the server can read the file), when
     * end to end was to be expected.
     */
    notice?: string;
  }
  | { error: string };

/** What a receiver needs to decide where an offer's key comes from. */
export interface FileKeySource {
  inbox: FileKeyInbox;
  /** Whether `name` is known to use end-to-end keys (trust on first use). */
  usesE2e: (name: string) => boolean;
  waitMs?: number;
  /** When the offer came (performance.now()): the wait counts from there. */
  since?: number;
}

/**
 * What is left of `waitMs` counted from `since` (when the offer came), and
 * `least` at least (KEY_WAIT_IN_TURN_MS unless given; never more than
 * `waitMs`); all of `waitMs` without `since`.
 */
export function keyWaitLeft(
  waitMs: number,
  since?: number,
  now = performance.now(),
  least = KEY_WAIT_IN_TURN_MS,
): number {
  if (since === undefined) return waitMs;
  return Math.min(waitMs, Math.max(since + waitMs - now, least));
}

/**
 * The key of `offer`, or why it cannot be taken (a line for the user): from
 * the end-to-end channel when the offer names one; from the offer itself only
 * when its sender is not known to use end-to-end keys (otherwise a server
 * could put in a key of its own, and so a file of its own).
 *
 * An offer with both `key_id` and `key` was made while its sender had no
 * end-to-end keys for a recipient. Sent to one recipient, no secret is on its
 * way (the sender sends it before the offer, or not at all): the offer's key
 * is judged at once rather than waited out. To a group, the secret is
 * awaited, and the offer's key judged if it does not come. `wait: false`
 * (a receiver that declines the offer anyway) takes only a key already here.
 */
export function receiveFileKey(
  offer: FileOfferNotice,
  source: FileKeySource,
  wait = true,
): ReceivedKey | Promise<ReceivedKey> {
  if (offer.key_id === undefined) return readableKey(offer, source, false);
  const inClear = fileKeyOfOffer(offer) !== null;
  const waitMs = !wait || (inClear && offer.group === undefined)
    ? 0
    : source.waitMs;
  // Awaited (at most waitMs): the key may still be on its way. Until it
  // comes the name is unknown (the offer's is not the sender's word).
  return source.inbox.take(offer, waitMs, source.since).then((taken) => {
    if (!("error" in taken)) {
      return {
        key: taken.key,
        name: taken.name,
        readable: false,
        ...(taken.verifyKey === undefined
          ? {}
          : { verifyKey: taken.verifyKey }),
      };
    }
    // Its secret never came: the key in the clear, if the offer has one
    // and it may be trusted, is the one the sender meant. (A secret that
    // came unfit refuses the file: that is the server meddling.)
    if (inClear && wait && "missing" in taken) {
      return readableKey(offer, source, true);
    }
    return { error: `Cannot take a file from ${offer.from}: ${taken.error}` };
  });
}

/**
 * The key in `offer` (readable by the server), if its sender is not known to
 * use end-to-end keys. `keyless`: the offer named a key sent end to end too,
 * which did not come: the sender had no end-to-end keys of ours.
 */
function readableKey(
  offer: FileOfferNotice,
  source: FileKeySource,
  keyless: boolean,
): ReceivedKey {
  const refused = (why: string) => ({
    error: `Cannot take '${offer.name}': ${why}`,
  });
  const key = fileKeyOfOffer(offer);
  if (key === null) return refused("the offer carries no file key");
  if (source.usesE2e(offer.from)) {
    return refused(
      `its key is readable by the server, but ${offer.from} uses end-to-end keys (the server may be reading or replacing the file)`,
    );
  }
  return {
    key,
    name: offer.name,
    readable: true,
    notice: `${offer.from} ${
      keyless ? "had no end-to-end keys of yours" : "has no end-to-end keys"
    }: ${offer.name} is not end-to-end encrypted, and the host of the server can read it`,
  };
}

/** What the sender needs to send a file key end to end. */
export interface FileKeySender {
  /** e2e_sessions.ts `sendSecret`, bound to its E2eSessions. */
  sendSecret: (
    client: ChatClient,
    to: string,
    label: string,
    secret: Uint8Array,
    cid: string,
  ) => Promise<Reply>;
  /** Whether `name` is known to use end-to-end keys (trust on first use). */
  usesE2e: (name: string) => boolean;
  /**
   * Says a line now, before the share is done: that the key to a recipient
   * is still pending (answer_within.ts), and the offer waits for it.
   */
  notify: (line: string) => void;
  /**
   * The members (name keys) of `group` the user's chain there is given to,
   * and so was told about (group_sessions.ts `chainGivenTo`); null, or
   * absent, when there is none.
   */
  chainGivenTo?: (group: string) => ReadonlySet<string> | null;
}

/**
 * The line that says whom a group file's key (and name) went to: `given`,
 * the members of `group` online. Those the user's chain there is not given
 * to (`told`, group_sessions.ts `chainGivenTo`), whom no line named yet, are
 * each named, up to MAX_NEW_NAMED, and the others counted: counted among
 * all of them, a member the host added hid in "and 190 more". With no
 * chain there (`told` null), or none new, ten are named and the rest
 * counted.
 */
export function fileGivenLine(
  name: string,
  group: string,
  given: readonly string[],
  told: ReadonlySet<string> | null,
): string {
  const fresh = told === null
    ? []
    : given.filter((member) => !told.has(nameKey(member)));
  if (fresh.length === 0) {
    return `The key of ${name} went end to end to ${namesList(given)}, the ${
      given.length === 1 ? "member" : "members"
    } of ${group} online the server lists`;
  }
  const rest = given.length - fresh.length;
  return `The key of ${name} went end to end to ${
    namesList(fresh, MAX_NEW_NAMED, "of them")
  }, ${
    fresh.length === 1 ? "a member" : "members"
  } of ${group} online the server lists whom your messages there do not go to${
    rest > 0 ? `, and to ${rest} more whom they go to` : ""
  }`;
}

/** What the sender reads while a file's key waits for its answer. */
export function pendingKeyNotice(to: string, name: string): string {
  return `The server has not answered the key of ${name} sent to ${to} within ${
    SEND_WAIT_MS / 1000
  } seconds: it is still pending, and the file is offered when the answer comes`;
}

/**
 * A line for the sender about an offer's key: a warning (someone cannot
 * open the file, or the host can read it), or a notice (whom a group
 * file's key went to). Typed, so that no one tells them apart by words.
 */
export interface KeyLine {
  readonly kind: "warning" | "notice";
  readonly text: string;
}

/**
 * The lines to say about an offer's key: whom it went to first, then the
 * warnings.
 */
export function keyLinesOf(
  given: string | undefined,
  warnings: readonly string[],
): KeyLine[] {
  return [
    ...(given === undefined ? [] : [{ kind: "notice" as const, text: given }]),
    ...warnings.map((text) => ({ kind: "warning" as const, text })),
  ];
}

/** How an offer's key reaches its recipients. */
export type SharedKey =
  | {
    kind: "shared";
    /**
     * The offer's fields: `key_id`, and `key` and the real `name` when
     * someone needs them in the clear (else HIDDEN_FILE_NAME).
     */
    fields: { key_id: string; key?: string; name: string };
    /** Warnings for the sender once the offer is out (keyLinesOf). */
    lines: string[];
    /**
     * A group file: whom its key and name went to end to end. Said however
     * the offer ends, refused or taken back included: they have them.
     */
    given?: string;
    /**
     * A group file: signs `file_end`'s keyed SHA-256, whose `sig` the members
     * who got the key end to end require (file_signature.ts).
     */
    signer?: FileSigner;
  }
  /** Not offered: the reply says why. */
  | { kind: "refused"; reply: Extract<Reply, { t: "error" }> };

/**
 * Sends `key` end to end to the recipients of an offer of `name` (`size`
 * bytes) to `target`: the user `to`, or the online members of `group` but
 * the sender. A recipient without end-to-end keys gets it in the offer, and
 * the sender is told the host can read the file; a single recipient whose key
 * cannot be sent for another reason (a changed identity key not accepted)
 * refuses the offer.
 */
export async function shareFileKey(
  sender: FileKeySender,
  client: ChatClient,
  target: { to: string } | { group: string },
  key: Uint8Array,
  name: string,
  size: number,
): Promise<SharedKey> {
  const keyId = newFileKeyId();
  const label = fileSecretLabel(keyId);
  let recipients: string[];
  // A group file's secret names the group, as the server does (the offer's
  // word for it is the server's): a receiver checks the two agree.
  let group: string | undefined;
  if ("to" in target) recipients = [target.to];
  else {
    // Refused with slow_down (a burst of files), asked again after a pause.
    const reply = await withPatience(() =>
      client.request({ t: "members", group: target.group })
    );
    if (reply.t === "error") return { kind: "refused", reply };
    const self = nameKey(client.name ?? "");
    const listed = reply.t === "members"
      ? membersOf(reply, target.group)
      : { none: true as const };
    if ("other" in listed) {
      return {
        kind: "refused",
        reply: {
          t: "error",
          re: 0,
          code: "internal",
          text: `ERROR: Not sent: ${
            otherGroupText(listed.other, target.group)
          }`,
        },
      };
    }
    const members = "entry" in listed ? listed.entry : undefined;
    // Not in the group, by the server's whole list: it would refuse the
    // offer, so the key goes to no member first (the screen read "The key of
    // notes.txt went end to end to jojo", then the server's refusal), as
    // no group message's chain does (group_sessions.ts).
    if (
      members !== undefined && members.more === undefined &&
      !members.members.some((m) => nameKey(m) === self)
    ) {
      return {
        kind: "refused",
        reply: {
          t: "error",
          re: 0,
          code: "not_member",
          text:
            `ERROR: You are not a member of group '${members.group}'. Join it with /join ${members.group}`,
        },
      };
    }
    recipients = (members?.online ?? []).filter((n) => nameKey(n) !== self);
    group = members?.group ?? target.group;
    if (!NAME_PATTERN.test(group)) {
      return {
        kind: "refused",
        reply: {
          t: "error",
          re: 0,
          code: "bad_request",
          text: `ERROR: Not a group name: '${group}'`,
        },
      };
    }
  }
  const maxName = maxSecretFileNameBytes(group);
  if (utf8Encode(name).length > maxName) {
    return {
      kind: "refused",
      reply: {
        t: "error",
        re: 0,
        code: "too_long",
        text:
          `ERROR: The file's name is too long to send end to end (at most ${maxName} bytes of UTF-8); rename it`,
      },
    };
  }
  // Every member of a group holds the key: only the sender's signature
  // tells them the file is the sender's (file_signature.ts).
  const signer = group === undefined ? undefined : await newFileSigner();
  const secret = encodeFileSecret(
    key,
    name,
    size,
    group === undefined ? undefined : { group, verifyKey: signer!.verifyKey },
  );
  const keyless: string[] = [];
  const lines: string[] = [];
  // Who was given the key: the server alone says who is in a group, and a
  // member of its own that it lists would read the file (its file_result
  // need not name them).
  const given: string[] = [];
  for (const to of recipients) {
    // Refused with slow_down (a burst of files typed at once, each with
    // its key), sent again after the server's pause, as a chat line is: the
    // offer waits for it in its turn.
    const cid = newClientId();
    const reply = await withPatience(async () => {
      const reply = await sender.sendSecret(client, to, label, secret, cid);
      const pending = pendingOf(reply);
      if (pending === undefined) return reply;
      // Not answered within SEND_WAIT_MS: the key may still go, and the
      // offer needs it there first, so the offer waits for the answer (the
      // end-to-end queue does not). A connection that ends first ends the
      // offer too: the key is not sent again, and the file is not offered.
      sender.notify(pendingKeyNotice(to, name));
      return await pending.answer;
    });
    if (reply.t === "ok") {
      given.push(to);
      continue;
    }
    if (reply.t !== "error") {
      lines.push(`WARNING: ${to} will not be able to open ${name}`);
      continue;
    }
    if (reply.code === "no_keys" && !sender.usesE2e(to)) {
      keyless.push(to);
      continue;
    }
    // One recipient: nothing to offer. In a group, the others still get it.
    if ("to" in target) return { kind: "refused", reply };
    lines.push(
      `WARNING: ${to} will not be able to open ${name}: ${
        reply.text.replace(/^ERROR: /, "")
      }`,
    );
  }
  const givenLine = group !== undefined && given.length > 0
    ? fileGivenLine(name, group, given, sender.chainGivenTo?.(group) ?? null)
    : undefined;
  // In a group where someone has keys, the keyless members (perhaps made
  // up by the host to read it) are left out: the key stays out of the
  // offer. Only one keyless recipient, or a group of old clients only, gets
  // it in the clear, as before.
  const inTheClear = keyless.length > 0 &&
    (group === undefined || sendsInTheClear(recipients.length, keyless.length));
  if (inTheClear) {
    lines.unshift(
      `WARNING: ${keyless.join(", ")} ha${
        keyless.length === 1 ? "s" : "ve"
      } not published end-to-end keys: ${name} is not end-to-end encrypted, and the host of the server can read it and its name`,
    );
  } else {
    lines.unshift(...keyless.map((member) => keylessFileLine(member, name)));
  }
  return {
    kind: "shared",
    fields: {
      key_id: keyId,
      // One offer goes to every recipient: a name in the clear for one is
      // in the clear for all.
      ...(inTheClear
        ? { ...fileKeyForOffer(key), name }
        : { name: HIDDEN_FILE_NAME }),
    },
    lines,
    ...(givenLine === undefined ? {} : { given: givenLine }),
    ...(signer === undefined ? {} : { signer }),
  };
}
