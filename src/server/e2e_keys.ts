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
import type { ClientMessage } from "../protocol/messages.ts";
import { fail, type Outbound, reply } from "./outbound.ts";
import type { Session } from "./session.ts";
import type { ServerState } from "./state.ts";

// Kept in its own module so that ServerState can hold one without importing
// this router part (no import cycles); re-exported for those who knew it here.
export { MAX_STORED_ONE_TIME } from "./prekey_directory.ts";

/** The largest `e2e_keys` body: a full bundle is about 16 KiB of JSON. */
export const MAX_BUNDLE_BYTES = 32 * 1024;

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
      // Each fetch uses up a one-time key: only users who can use one may.
      if (session.fingerprint === null) return needIdentity(session, message);
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
  if (session.fingerprint === null) return needIdentity(session, { id });
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

function needIdentity(session: Session, message: { id: number }): Outbound[] {
  return fail(
    session.id,
    message.id,
    "identity",
    "ERROR: End-to-end keys need a proven identity key",
  );
}
