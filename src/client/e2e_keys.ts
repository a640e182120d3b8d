// This module is browser compatible.

/**
 * The client's end-to-end keys as they travel through the server (issue 17
 * item 1; docs/PROTOCOL.md 11.2): publishing our bundle and topping up
 * one-time keys, and fetching someone's bundle, checked before any key in it
 * is used.
 *
 * keyring_file.ts keeps the keyring on disk.
 */

import type { ChatClient } from "./chat_client.ts";
import { oneAtATime } from "./one_at_a_time.ts";
import { withPatience } from "./with_patience.ts";
import type { ErrorCode } from "../protocol/messages.ts";
import { nameKey } from "../protocol/limits.ts";
import { type Identity, identityFingerprint } from "../crypto/identity.ts";
import type { X25519KeyPair } from "../crypto/x25519.ts";
import {
  decodeBundle,
  encodeBundle,
  generatePrekeys,
  MAX_ONE_TIME_PREKEYS,
  type PrekeyBundle,
  PrekeyError,
  type PrekeySecrets,
  verifyBundle,
} from "../crypto/prekeys.ts";

/** One-time private keys kept at most, over several top-ups. */
export const MAX_KEPT_ONE_TIME = 10 * MAX_ONE_TIME_PREKEYS;

/** How often a signed-in client tops up its one-time keys (keepToppedUp). */
export const TOP_UP_EVERY_MS = 10 * 60 * 1000;

/**
 * Calls `topUp` every `everyMs` until `client`'s connection ends. Others
 * take one-time keys without a word to their owner (a classmate fetching
 * bundles only to use them up, docs/PROTOCOL.md 11.2): a client that
 * topped up only at sign-in stayed without them for as long as it stayed
 * signed in, and every first message to it went without one.
 */
export function keepToppedUp(
  client: ChatClient,
  topUp: () => void,
  everyMs: number = TOP_UP_EVERY_MS,
): void {
  const timer = setInterval(() => {
    if (!client.isOver) topUp();
  }, everyMs);
  const stop = () => clearInterval(timer);
  client.ended.then(stop, stop);
}

/** A bundle that could not be published or fetched, with a reason to show. */
export class E2eKeyError extends Error {
  /** The server's error code, when the server refused. */
  readonly code: ErrorCode | null;
  constructor(
    message: string,
    options?: ErrorOptions & { code?: ErrorCode },
  ) {
    super(message, options);
    this.name = "E2eKeyError";
    this.code = options?.code ?? null;
  }
}

/** Our end-to-end keys: what we publish and the private halves. */
export interface Keyring {
  identity: Identity;
  /** Identity DH key and signed prekey, signed; `oneTime` is unused here. */
  bundle: PrekeyBundle;
  secrets: PrekeySecrets;
  /** The id the next one-time key gets. */
  nextOneTimeId: number;
  /** When the signed prekey was made (ms since the epoch). */
  signedAt: number;
  /**
   * The signed prekey before it, kept until `until` to answer first
   * messages made with it (a bundle fetched before the rotation).
   */
  retired: { id: number; pair: X25519KeyPair; until: number } | null;
}

/** A signed prekey is replaced after this long (at a sign-in). */
export const SIGNED_PREKEY_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

/** A replaced signed prekey still answers first messages this long. */
export const RETIRED_PREKEY_KEPT_MS = 30 * 24 * 60 * 60 * 1000;

/** A new keyring for `identity`: an identity DH key and a signed prekey. */
export async function createKeyring(
  identity: Identity,
  now = Date.now(),
): Promise<Keyring> {
  const { bundle, secrets } = await generatePrekeys(identity, {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount: 0,
  });
  return {
    identity,
    bundle,
    secrets,
    nextOneTimeId: 0,
    signedAt: now,
    retired: null,
  };
}

/**
 * Replaces a signed prekey older than {@link SIGNED_PREKEY_LIFETIME_MS}
 * (the next id), keeping the old one as `retired`, and forgets a retired
 * one past its time. Returns whether the keyring changed.
 */
export async function rotateSignedPrekey(
  keyring: Keyring,
  now = Date.now(),
): Promise<boolean> {
  let changed = false;
  if (keyring.retired !== null && now > keyring.retired.until) {
    keyring.retired = null;
    changed = true;
  }
  if (now - keyring.signedAt < SIGNED_PREKEY_LIFETIME_MS) return changed;
  const old = keyring.secrets.signed;
  const fresh = await generatePrekeys(keyring.identity, {
    dh: keyring.secrets.dh,
    signedId: (old.id + 1) % 2 ** 32,
    firstOneTimeId: 0,
    oneTimeCount: 0,
  });
  keyring.bundle = { ...keyring.bundle, signed: fresh.bundle.signed };
  keyring.secrets.signed = fresh.secrets.signed;
  keyring.retired = { ...old, until: now + RETIRED_PREKEY_KEPT_MS };
  keyring.signedAt = now;
  return true;
}

/**
 * The signed prekey (id and pair) a first message names: the current one,
 * or the retired one while it is kept; null if neither.
 */
export function signedPrekeyFor(
  keyring: Keyring,
  id: number,
  now = Date.now(),
): PrekeySecrets["signed"] | null {
  if (keyring.secrets.signed.id === id) return keyring.secrets.signed;
  const retired = keyring.retired;
  if (retired !== null && retired.id === id && now <= retired.until) {
    return { id: retired.id, pair: retired.pair };
  }
  return null;
}

/**
 * Publishes the keyring's bundle (with a new signed prekey once the old one
 * is a week old) and tops the server's one-time keys up to
 * {@link MAX_ONE_TIME_PREKEYS}; resolves with how many it then holds. New
 * keys are given to `save` before they are sent. `taken` is called each
 * time the server takes a bundle: after the first (empty) one it holds the
 * keys, even if the top-up after it is refused (own_keys_on_server.ts).
 *
 * @throws {E2eKeyError} if the server refuses
 */
export function publishPrekeys(
  client: ChatClient,
  keyring: Keyring,
  save: (keyring: Keyring) => Promise<void> = async () => {},
  now = Date.now(),
  taken: () => void = () => {},
): Promise<number> {
  // One at a time per keyring: two at once (a quick reconnect's sign-in
  // while the last one still publishes) would both take the next ids and
  // make two keys for each, the server handing out halves the keyring no
  // longer has.
  let inTurn = publishing.get(keyring);
  if (inTurn === undefined) {
    inTurn = oneAtATime();
    publishing.set(keyring, inTurn);
  }
  return inTurn(() => publishNow(client, keyring, save, now, taken));
}

const publishing = new WeakMap<Keyring, ReturnType<typeof oneAtATime>>();

async function publishNow(
  client: ChatClient,
  keyring: Keyring,
  save: (keyring: Keyring) => Promise<void>,
  now: number,
  taken: () => void,
): Promise<number> {
  // A new signed prekey is saved before anyone can be handed it.
  if (await rotateSignedPrekey(keyring, now)) await save(keyring);
  // An empty top-up first: the server says how many it still holds.
  const held = await sendBundle(client, { ...keyring.bundle, oneTime: [] });
  // It holds the bundle now: first messages to us can be made with it.
  taken();
  const missing = MAX_ONE_TIME_PREKEYS - held;
  if (missing <= 0) return held;
  const fresh = await generatePrekeys(keyring.identity, {
    dh: keyring.secrets.dh,
    signedId: keyring.secrets.signed.id,
    firstOneTimeId: keyring.nextOneTimeId,
    oneTimeCount: missing,
  });
  for (const [id, pair] of fresh.secrets.oneTime) {
    keyring.secrets.oneTime.set(id, pair);
  }
  // Keys handed out but never answered would pile up; the oldest go first
  // (a first message that old is answered without it, and fails).
  for (const id of keyring.secrets.oneTime.keys()) {
    if (keyring.secrets.oneTime.size <= MAX_KEPT_ONE_TIME) break;
    keyring.secrets.oneTime.delete(id);
  }
  keyring.nextOneTimeId = (keyring.nextOneTimeId + missing) % 2 ** 32;
  // Saved before the server has them: a key it could hand out must never be
  // one whose private half was lost.
  await save(keyring);
  const topped = await sendBundle(client, {
    ...keyring.bundle,
    oneTime: fresh.bundle.oneTime,
  });
  taken();
  return topped;
}

/** A fetched, verified bundle and who it belongs to. */
export interface FetchedBundle {
  /** The name as its owner registered it. */
  name: string;
  /** The fingerprint of `bundle.identity`, checked. */
  fingerprint: string;
  bundle: PrekeyBundle;
}

/**
 * How long {@link fetchBundle} waits for the server's answer. End-to-end
 * messages are opened and sent one at a time (e2e_sessions.ts): a server
 * that never answers a request for keys (one for the sender of a message
 * that could not be opened, to tell them so, say) would otherwise hold
 * every later one behind it (group_sessions.ts bounds its `groups` and
 * `members` alike).
 */
export const BUNDLE_WAIT_MS = 5000;

/**
 * Fetches the bundle of `name` and checks it: for that name, well formed,
 * every key signed by its identity key, and that key the one whose
 * fingerprint the server reported. Whether that is the key we trust for the name is the caller's
 * question (known_identities.ts).
 *
 * @throws {E2eKeyError} if the server has none, does not answer within
 * {@link BUNDLE_WAIT_MS}, or the bundle fails a check
 */
export async function fetchBundle(
  client: ChatClient,
  name: string,
): Promise<FetchedBundle> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const { reply, body } = await Promise.race([
    client.requestWithBody({ t: "e2e_bundle", name }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new E2eKeyError(
              `The server did not hand out ${name}'s keys within ${
                BUNDLE_WAIT_MS / 1000
              } seconds`,
            ),
          ),
        BUNDLE_WAIT_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  if (reply.t === "error") {
    throw new E2eKeyError(reply.text, { code: reply.code });
  }
  if (reply.t !== "e2e_bundle") {
    throw new E2eKeyError(`Unexpected reply to e2e_bundle: ${reply.t}`);
  }
  // The caller checks the key against the one trusted for `reply.name`: a
  // server answering with someone else's name (one never seen, so trusted
  // on first use) would otherwise get its own key used for `name`.
  if (nameKey(reply.name) !== nameKey(name)) {
    throw new E2eKeyError(
      `The server answered with the keys of ${reply.name}, not of ${name}`,
    );
  }
  let bundle: PrekeyBundle;
  try {
    bundle = decodeBundle(JSON.parse(new TextDecoder().decode(body)));
    await verifyBundle(bundle);
  } catch (error) {
    const reason = error instanceof PrekeyError || error instanceof SyntaxError
      ? error.message
      : String(error);
    throw new E2eKeyError(`${reply.name}'s keys are not valid: ${reason}`, {
      cause: error,
    });
  }
  const fingerprint = await identityFingerprint(bundle.identity);
  if (fingerprint !== reply.fingerprint) {
    throw new E2eKeyError(
      `${reply.name}'s keys are signed by ${fingerprint}, not by the key the server names (${reply.fingerprint})`,
    );
  }
  return { name: reply.name, fingerprint, bundle };
}

async function sendBundle(
  client: ChatClient,
  bundle: PrekeyBundle,
): Promise<number> {
  // Asked again after a pause while the server says slow_down: a sign-in's
  // publish shares the connection's message rate with what the user does
  // at once (a script's lines), and one given up leaves no keys to send to.
  const reply = await withPatience(() =>
    client.request(
      { t: "e2e_keys" },
      // Always announcing that this client reads the sender's time (type
      // 3): senders use it toward this client only then (PROTOCOL 11.7).
      new TextEncoder().encode(
        JSON.stringify(encodeBundle({ ...bundle, senderTime: true })),
      ),
    )
  );
  if (reply.t === "error") {
    throw new E2eKeyError(reply.text, { code: reply.code });
  }
  if (reply.t !== "e2e_keys") {
    throw new E2eKeyError(`Unexpected reply to e2e_keys: ${reply.t}`);
  }
  return reply.one_time;
}
