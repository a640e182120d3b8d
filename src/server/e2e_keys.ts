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
 * Kept in memory: a restart loses the bundles, and clients publish again at
 * sign-in. TODO(#17): keep them in the store, for offline first messages
 * across restarts.
 */

import {
  decodeBundle,
  encodeBundle,
  type PrekeyBundle,
  PrekeyError,
} from "../crypto/prekeys.ts";
import { nameKey } from "../protocol/limits.ts";
import type { ClientMessage, Timestamp } from "../protocol/messages.ts";
import type { OneTimeTakers } from "./one_time_takers.ts";
import { fail, type Outbound, reply } from "./outbound.ts";
import type { Session } from "./session.ts";
import type { ServerState } from "./state.ts";
import type { Entry, PublishResult } from "./prekey_directory.ts";

// Kept in its own module so that ServerState can hold one without importing
// this router part (no import cycles); re-exported for those who knew it here.
export { MAX_STORED_ONE_TIME } from "./prekey_directory.ts";

/** The largest `e2e_keys` body: a full bundle is about 16 KiB of JSON. */
export const MAX_BUNDLE_BYTES = 32 * 1024;

type E2eMessage = Extract<ClientMessage, { t: "e2e_keys" | "e2e_bundle" }>;

/**
 * Where bundles are held when that is beyond this process: a cluster's
 * bucket (cluster/prekeys.ts), shared by every node, with each one-time key
 * taken once across them all, and who took one kept with them.
 */
export interface SharedPrekeys {
  /** Stores `bundle`; anyone may take one of the owner's keys again. */
  publish(
    name: string,
    fingerprint: string,
    bundle: PrekeyBundle,
  ): Promise<PublishResult>;
  /**
   * The bundle of `name` for `requester` (an identity key's fingerprint):
   * with a one-time key, taken, unless `requester` took one on any node
   * since the owner last published, or `allowed` (asked at most once, and
   * only when a key would be taken) says no: then without, taking none.
   */
  take(
    name: string,
    requester: string,
    allowed?: () => boolean,
  ): Promise<Entry | null>;
}

/** Handles `e2e_keys` and `e2e_bundle`. Never throws on client input. */
export function routeE2eKeys(
  state: ServerState,
  session: Session,
  message: E2eMessage,
  body: Uint8Array,
  now: Timestamp,
): Outbound[] {
  switch (message.t) {
    case "e2e_keys": {
      const parsed = parsePublish(session, message.id, body);
      if (!("bundle" in parsed)) return parsed.refused;
      return publishReply(
        session,
        message.id,
        state.prekeys.publish(session.name, parsed.fingerprint, parsed.bundle),
        state.oneTimeTakers,
      );
    }
    case "e2e_bundle": {
      // Each fetch uses up a one-time key: only users who can use one may.
      const requester = session.fingerprint;
      if (requester === null) return needIdentity(session, message);
      const owner = nameKey(message.name);
      const takers = state.oneTimeTakers;
      if (takers.took(owner, requester)) {
        return bundleReply(session, message, state.prekeys.peek(message.name));
      }
      // Identities are free to make: what the connections of one address
      // take together is bounded too (account_budgets.ts).
      const address = state.addressOf(session.id);
      if (
        state.prekeys.oneTimeCount(message.name) > 0 &&
        !state.budgets.takeOneTimeKey(address, owner, now)
      ) {
        return bundleReply(session, message, state.prekeys.peek(message.name));
      }
      const entry = state.prekeys.take(message.name);
      if (entry !== null && entry.bundle.oneTime.length > 0) {
        takers.add(owner, requester);
      }
      return bundleReply(session, message, entry);
    }
    default: {
      const unknown: never = message;
      return unknown;
    }
  }
}

/**
 * routeE2eKeys with the bundles held in `shared` (a cluster's bucket), which
 * keeps who took a one-time key too.
 */
export async function routeSharedE2eKeys(
  shared: SharedPrekeys,
  session: Session,
  message: E2eMessage,
  body: Uint8Array,
  /**
   * Whether this connection's address may take one of the owner's keys
   * (account_budgets.ts, this node's count), asked only when one would be.
   */
  mayTake: (owner: string) => boolean = () => true,
): Promise<Outbound[]> {
  switch (message.t) {
    case "e2e_keys": {
      const parsed = parsePublish(session, message.id, body);
      if (!("bundle" in parsed)) return parsed.refused;
      return publishReply(
        session,
        message.id,
        await shared.publish(session.name, parsed.fingerprint, parsed.bundle),
        null,
      );
    }
    case "e2e_bundle": {
      const requester = session.fingerprint;
      if (requester === null) return needIdentity(session, message);
      const owner = nameKey(message.name);
      return bundleReply(
        session,
        message,
        await shared.take(message.name, requester, () => mayTake(owner)),
      );
    }
    default: {
      const unknown: never = message;
      return unknown;
    }
  }
}

function bundleReply(
  session: Session,
  message: { id: number; name: string },
  entry: Entry | null,
): Outbound[] {
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

/** The bundle an `e2e_keys` carries, or the refusal to send. */
function parsePublish(
  session: Session,
  id: number,
  body: Uint8Array,
):
  | { bundle: PrekeyBundle; fingerprint: string }
  | { refused: Outbound[] } {
  if (session.fingerprint === null) {
    return { refused: needIdentity(session, { id }) };
  }
  if (body.length > MAX_BUNDLE_BYTES) {
    return {
      refused: fail(
        session.id,
        id,
        "too_large",
        `ERROR: A bundle is at most ${MAX_BUNDLE_BYTES} bytes`,
      ),
    };
  }
  try {
    return {
      bundle: decodeBundle(
        JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)),
      ),
      fingerprint: session.fingerprint,
    };
  } catch (error) {
    const reason = error instanceof PrekeyError
      ? error.message
      : "the body is not UTF-8 JSON";
    return {
      refused: fail(
        session.id,
        id,
        "bad_request",
        `ERROR: Bad bundle: ${reason}`,
      ),
    };
  }
}

function publishReply(
  session: Session,
  id: number,
  result: PublishResult,
  /** This server's takers; null where the shared bucket forgets its own. */
  takers: OneTimeTakers | null,
): Outbound[] {
  switch (result.kind) {
    case "stored":
      // New keys, or the top-up at sign-in: anyone may take one again. Not
      // after an empty top-up that changed nothing (a signed-in client asks
      // every 10 minutes): no key came to take.
      if (result.changed) takers?.forget(session.nameKey);
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

function needIdentity(session: Session, message: { id: number }): Outbound[] {
  return fail(
    session.id,
    message.id,
    "identity",
    "ERROR: End-to-end keys need a proven identity key",
  );
}
