// This module is browser compatible.

/**
 * File keys end to end (issue 17 items 2 and 3; docs/PROTOCOL.md 11.10): the
 * sender sends each recipient the offer's file key as a secret over the 1:1
 * end-to-end channel (e2e_sessions.ts `sendSecret`) before the offer, and the
 * offer carries only the key's id. The secret is bound to the offer: its
 * label holds the id, and the secret itself the file's name (hashed) and size,
 * so a server that hands a key over with another offer makes the receiver
 * refuse the file, never open it as something else. The offer's readable
 * `key` is kept only for recipients without end-to-end keys, and the sender
 * is told that the host can read that file.
 */

import { concatBytes, equalBytes, toHex, utf8Encode } from "../crypto/bytes.ts";
import { FILE_KEY_BYTES } from "../crypto/file_cipher.ts";
import { FILE_KEY_ID_PATTERN, nameKey } from "../protocol/limits.ts";
import type { FileOfferNotice } from "../protocol/messages.ts";
import { type ChatClient, newClientId, type Reply } from "./chat_client.ts";
import { fileKeyForOffer, fileKeyOfOffer } from "./file_key.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/** A file key's secret is labelled this, then the key id (11.10). */
export const FILE_SECRET_LABEL_PREFIX = "file ";

/** key (32) || SHA-256 of the file name (32) || u64be size (8). */
export const FILE_SECRET_BYTES = FILE_KEY_BYTES + 32 + 8;

// ---- End of protocol constants. ----

/** How long a receiver waits for a file's key to arrive end to end. */
export const FILE_KEY_WAIT_MS = 10_000;

/** Keys kept for offers not seen yet (oldest dropped first). */
const MAX_WAITING_KEYS = 256;

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

/** The secret that carries `key` for the file `name` of `size` bytes. */
export async function encodeFileSecret(
  key: Uint8Array,
  name: string,
  size: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (key.length !== FILE_KEY_BYTES) {
    throw new RangeError(`A file key is ${FILE_KEY_BYTES} bytes`);
  }
  const sizeBytes = new Uint8Array(8);
  new DataView(sizeBytes.buffer).setBigUint64(0, BigInt(size));
  return concatBytes(key, await nameHash(name), sizeBytes);
}

/**
 * The file key in `secret` if it was made for `offer` (its name and size),
 * or why not.
 */
export async function fileKeyOfSecret(
  secret: Uint8Array,
  offer: FileOfferNotice,
): Promise<{ key: Uint8Array<ArrayBuffer> } | { error: string }> {
  if (secret.length !== FILE_SECRET_BYTES) {
    return { error: "its key is malformed" };
  }
  const size = new DataView(secret.buffer, secret.byteOffset + 64, 8)
    .getBigUint64(0);
  if (
    !equalBytes(secret.subarray(32, 64), await nameHash(offer.name)) ||
    size !== BigInt(offer.size)
  ) {
    return {
      error:
        "the key sent for it end to end is for another file (the server may have swapped them)",
    };
  }
  return { key: secret.slice(0, FILE_KEY_BYTES) };
}

async function nameHash(name: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", utf8Encode(name)),
  );
}

/**
 * File keys received end to end, by key id, until their offer asks for them.
 * Each key is handed out once.
 */
export class FileKeyInbox {
  readonly #keys = new Map<string, { from: string; secret: Uint8Array }>();
  readonly #waiters = new Map<string, () => void>();

  /**
   * Takes a secret opened from `from` if its label is a file key's; false
   * (nothing kept) if it is for something else.
   */
  deliver(from: string, label: string, secret: Uint8Array): boolean {
    const id = keyIdOfLabel(label);
    if (id === null) return false;
    this.#keys.delete(id);
    this.#keys.set(id, { from, secret: secret.slice() });
    while (this.#keys.size > MAX_WAITING_KEYS) {
      this.#keys.delete(this.#keys.keys().next().value!);
    }
    this.#waiters.get(id)?.();
    return true;
  }

  /**
   * The key of `offer` (its `key_id`), waiting up to `waitMs` for it to
   * arrive, or why there is none.
   */
  async take(
    offer: FileOfferNotice,
    waitMs = FILE_KEY_WAIT_MS,
  ): Promise<{ key: Uint8Array<ArrayBuffer> } | { error: string }> {
    const id = offer.key_id;
    if (id === undefined) return { error: "the offer names no key" };
    if (!this.#keys.has(id)) {
      const arrived = Promise.withResolvers<void>();
      this.#waiters.set(id, arrived.resolve);
      const timer = setTimeout(arrived.resolve, waitMs);
      await arrived.promise;
      clearTimeout(timer);
      this.#waiters.delete(id);
    }
    const held = this.#keys.get(id);
    if (held === undefined) {
      return {
        error: `its key did not arrive end to end from ${offer.from} within ${
          Math.round(waitMs / 1000)
        } s (the server may have dropped it)`,
      };
    }
    this.#keys.delete(id);
    if (nameKey(held.from) !== nameKey(offer.from)) {
      return {
        error:
          `the key named by the offer came from ${held.from}, not from ${offer.from}`,
      };
    }
    return await fileKeyOfSecret(held.secret, offer);
  }
}

/** An offer's key and whether the server could read it, or why there is none. */
export type ReceivedKey =
  | { key: Uint8Array<ArrayBuffer>; readable: boolean }
  | { error: string };

/** What a receiver needs to decide where an offer's key comes from. */
export interface FileKeySource {
  inbox: FileKeyInbox;
  /** Whether `name` is known to use end-to-end keys (trust on first use). */
  usesE2e: (name: string) => boolean;
  waitMs?: number;
}

/**
 * The key of `offer`, or why it cannot be taken (a line for the user): from
 * the end-to-end channel when the offer names one; from the offer itself only
 * when its sender is not known to use end-to-end keys (otherwise a server
 * could put in a key of its own, and so a file of its own).
 */
export function receiveFileKey(
  offer: FileOfferNotice,
  source: FileKeySource,
): ReceivedKey | Promise<ReceivedKey> {
  const refused = (why: string) => ({
    error: `Cannot take '${offer.name}': ${why}`,
  });
  if (offer.key_id !== undefined) {
    // Awaited (at most waitMs): the key may still be on its way.
    return source.inbox.take(offer, source.waitMs).then((taken) =>
      "error" in taken
        ? refused(taken.error)
        : { key: taken.key, readable: false }
    );
  }
  const key = fileKeyOfOffer(offer);
  if (key === null) return refused("the offer carries no file key");
  if (source.usesE2e(offer.from)) {
    return refused(
      `its key is readable by the server, but ${offer.from} uses end-to-end keys (the server may be reading or replacing the file)`,
    );
  }
  return { key, readable: true };
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
}

/** How an offer's key reaches its recipients. */
export type SharedKey =
  | {
    kind: "shared";
    /** The offer's fields: `key_id`, and `key` when someone needs it in the clear. */
    fields: { key_id: string; key?: string };
    /** Lines for the sender (warnings start with "WARNING: "). */
    lines: string[];
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
  const secret = await encodeFileSecret(key, name, size);
  let recipients: string[];
  if ("to" in target) recipients = [target.to];
  else {
    const reply = await client.request({ t: "members", group: target.group });
    if (reply.t === "error") return { kind: "refused", reply };
    const self = nameKey(client.name ?? "");
    recipients = reply.t === "members"
      ? (reply.groups[0]?.online ?? []).filter((n) => nameKey(n) !== self)
      : [];
  }
  const keyless: string[] = [];
  const lines: string[] = [];
  for (const to of recipients) {
    const reply = await sender.sendSecret(
      client,
      to,
      label,
      secret,
      newClientId(),
    );
    if (reply.t === "ok") continue;
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
  if (keyless.length > 0) {
    lines.unshift(
      `WARNING: ${keyless.join(", ")} ha${
        keyless.length === 1 ? "s" : "ve"
      } not published end-to-end keys: ${name} is not end-to-end encrypted, and the host of the server can read it`,
    );
  }
  return {
    kind: "shared",
    fields: {
      key_id: keyId,
      ...(keyless.length > 0 ? fileKeyForOffer(key) : {}),
    },
    lines,
  };
}
