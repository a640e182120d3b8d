// This module is browser compatible.

/**
 * End-to-end prekeys as the server keeps them (issue 17 item 1;
 * docs/PROTOCOL.md "End to end (in progress)"): one bundle per user name,
 * tied to the identity key the user signed in with, and handed out to anyone
 * who asks, each one-time key once.
 *
 * The server only stores and hands out. It checks shapes and sizes (so a
 * hostile client cannot make it hold garbage or too much), not signatures:
 * every client verifies a bundle against the identity key it trusts for the
 * name (prekeys.ts verifyBundle), which is the check that matters, since a
 * server that wanted to swap keys would skip its own.
 *
 * Kept in the store when there is one (written at every change, read
 * back when first asked for), so that a first message reaches someone
 * offline across a restart; in memory otherwise.
 */

import {
  decodeBundle,
  encodeBundle,
  MAX_ONE_TIME_PREKEYS,
  type PrekeyBundle,
  PrekeyError,
} from "../crypto/prekeys.ts";
import { nameKey } from "../protocol/limits.ts";
import type { Store } from "../store/store.ts";
import type {
  ClientMessage,
  ErrorCode,
  ServerMessage,
} from "../protocol/messages.ts";
import type { Outbound } from "./router.ts";
import type { ConnId, ServerState, Session } from "./state.ts";

/** The largest `e2e_keys` body: a full bundle is about 16 KiB of JSON. */
export const MAX_BUNDLE_BYTES = 32 * 1024;

/** The most one-time keys the server holds for one user. */
export const MAX_STORED_ONE_TIME = MAX_ONE_TIME_PREKEYS;

interface Entry {
  /** The name as its owner registered it. */
  name: string;
  /** The identity key (fingerprint) the bundle was published under. */
  fingerprint: string;
  bundle: PrekeyBundle;
}

/** What `e2e_keys` can end in. */
export type PublishResult =
  | { kind: "stored"; oneTime: number }
  | { kind: "refused"; code: ErrorCode; text: string };

/** Every user's published bundle, by name key. */
export class PrekeyDirectory {
  #entries = new Map<string, Entry>();
  readonly #store: Store | null;

  constructor(store: Store | null = null) {
    this.#store = store;
  }

  /** The entry of a name key: from memory, else from the store. */
  #entry(key: string): Entry | undefined {
    const known = this.#entries.get(key);
    if (known !== undefined || this.#store === null) return known;
    const stored = this.#store.getPrekeys(key);
    if (stored === undefined) return undefined;
    let bundle: PrekeyBundle;
    try {
      bundle = decodeBundle(JSON.parse(stored.bundle));
    } catch {
      // Only this code writes the rows: a bad one is dropped, not served.
      return undefined;
    }
    const entry = {
      name: stored.name,
      fingerprint: stored.fingerprint,
      bundle,
    };
    this.#entries.set(key, entry);
    return entry;
  }

  #save(key: string, entry: Entry): void {
    this.#entries.set(key, entry);
    this.#store?.putPrekeys(key, {
      name: entry.name,
      fingerprint: entry.fingerprint,
      bundle: JSON.stringify(encodeBundle(entry.bundle)),
    });
  }

  /**
   * Stores `bundle` for `name`: its identity DH key and signed prekey replace
   * the previous ones, its one-time keys join those held. A bundle under a
   * different identity key (the name changed hands) replaces everything.
   */
  publish(
    name: string,
    fingerprint: string,
    bundle: PrekeyBundle,
  ): PublishResult {
    const key = nameKey(name);
    const old = this.#entry(key);
    const kept = old !== undefined && old.fingerprint === fingerprint
      ? old.bundle.oneTime
      : [];
    const ids = new Set(kept.map((one) => one.id));
    for (const one of bundle.oneTime) {
      if (ids.has(one.id)) {
        return {
          kind: "refused",
          code: "bad_request",
          text: `ERROR: One-time key ${one.id} is already published`,
        };
      }
    }
    if (kept.length + bundle.oneTime.length > MAX_STORED_ONE_TIME) {
      return {
        kind: "refused",
        code: "limit",
        text:
          `ERROR: The server keeps at most ${MAX_STORED_ONE_TIME} one-time keys per user; it holds ${kept.length}`,
      };
    }
    const oneTime = [...kept, ...bundle.oneTime];
    this.#save(key, { name, fingerprint, bundle: { ...bundle, oneTime } });
    return { kind: "stored", oneTime: oneTime.length };
  }

  /**
   * The bundle of `name` with its oldest one-time key, which is deleted; with
   * none when they are used up. Null if the name published nothing.
   */
  take(name: string): Entry | null {
    const key = nameKey(name);
    const entry = this.#entry(key);
    if (entry === undefined) return null;
    const [first, ...rest] = entry.bundle.oneTime;
    // Written before it is handed out: a one-time key goes out once, even
    // across a restart.
    if (first !== undefined) {
      this.#save(key, { ...entry, bundle: { ...entry.bundle, oneTime: rest } });
    }
    return {
      ...entry,
      bundle: { ...entry.bundle, oneTime: first === undefined ? [] : [first] },
    };
  }

  /** How many one-time keys are held for `name`. */
  oneTimeCount(name: string): number {
    return this.#entry(nameKey(name))?.bundle.oneTime.length ?? 0;
  }
}

type E2eMessage = Extract<ClientMessage, { t: "e2e_keys" | "e2e_bundle" }>;

/** Handles `e2e_keys` and `e2e_bundle`. Never throws on client input. */
export function routeE2eKeys(
  state: ServerState,
  session: Session,
  message: E2eMessage,
  body: Uint8Array,
): Outbound[] {
  switch (message.t) {
    case "e2e_keys":
      return publish(state, session, message.id, body);
    case "e2e_bundle": {
      const entry = state.prekeys.take(message.name);
      if (entry === null) {
        return fail(
          session.id,
          message.id,
          "no_keys",
          `ERROR: ${message.name} has not published end-to-end keys`,
        );
      }
      return [{
        to: [session.id],
        message: {
          t: "e2e_bundle",
          re: message.id,
          name: entry.name,
          fingerprint: entry.fingerprint,
        },
        body: new TextEncoder().encode(
          JSON.stringify(encodeBundle(entry.bundle)),
        ),
      }];
    }
    default: {
      const unknown: never = message;
      return unknown;
    }
  }
}

function publish(
  state: ServerState,
  session: Session,
  id: number,
  body: Uint8Array,
): Outbound[] {
  if (session.fingerprint === null) {
    return fail(
      session.id,
      id,
      "identity",
      "ERROR: End-to-end keys need a proven identity key",
    );
  }
  if (body.length > MAX_BUNDLE_BYTES) {
    return fail(
      session.id,
      id,
      "too_large",
      `ERROR: A bundle is at most ${MAX_BUNDLE_BYTES} bytes`,
    );
  }
  let bundle: PrekeyBundle;
  try {
    bundle = decodeBundle(
      JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)),
    );
  } catch (error) {
    const reason = error instanceof PrekeyError
      ? error.message
      : "the body is not UTF-8 JSON";
    return fail(session.id, id, "bad_request", `ERROR: Bad bundle: ${reason}`);
  }
  const result = state.prekeys.publish(
    session.name,
    session.fingerprint,
    bundle,
  );
  switch (result.kind) {
    case "stored":
      return reply(session.id, {
        t: "e2e_keys",
        re: id,
        one_time: result.oneTime,
      });
    case "refused":
      return fail(session.id, id, result.code, result.text);
    default: {
      const unknown: never = result;
      return unknown;
    }
  }
}

function reply(to: ConnId, message: ServerMessage): Outbound[] {
  return [{ to: [to], message }];
}

function fail(
  to: ConnId,
  re: number,
  code: ErrorCode,
  text: string,
): Outbound[] {
  return reply(to, { t: "error", re, code, text });
}
