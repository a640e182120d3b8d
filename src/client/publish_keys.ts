/**
 * Publishing the user's end-to-end keys at every sign-in (issue 17), and
 * topping up one-time keys while signed in (keepToppedUp).
 *
 * @module
 */

import type { ChatClient } from "./chat_client.ts";
import {
  E2eKeyError,
  keepToppedUp,
  type Keyring,
  publishPrekeys,
  TOP_UP_EVERY_MS,
} from "./e2e_keys.ts";
import type { OwnKeysOnServer } from "./own_keys_on_server.ts";
import type { SessionEvent } from "./session_events.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";

/** The keyring to publish, and where new one-time keys are saved first. */
export interface KeysToPublish {
  keyring: Keyring;
  save: (keyring: Keyring) => Promise<void>;
  /** Told how each publish went (taken, or refused by the server). */
  onServer?: OwnKeysOnServer;
}

/** How publishKeys tops up after the first publish (tests shorten it). */
export interface TopUps {
  /** Between two top-ups, in milliseconds. */
  everyMs?: number;
  /** Called after each publish with the one-time keys the server holds. */
  done?: (held: number) => void;
}

/**
 * Publishes our end-to-end keys and tops up one-time keys, in the
 * background: chat does not wait for it, but quitting does (session.ts),
 * so the promise returned settles, never rejecting, once the publish has
 * ended however it ended. A server from before end-to-end keys answers
 * `bad_request`, and is left alone. Then tops up again every
 * `topUps.everyMs` while the connection lasts (an empty `e2e_keys` asks
 * how many are left; only what is missing is made).
 */
export function publishKeys(
  client: ChatClient,
  e2e: KeysToPublish | undefined,
  emit: (event: SessionEvent) => void,
  topUps: TopUps = {},
): Promise<void> {
  if (e2e === undefined) return Promise.resolve();
  let unsupported = false;
  const publish = () =>
    // Told as each bundle is taken: the first (empty) one taken and the
    // top-up after it refused, the server holds our keys all the same.
    publishPrekeys(
      client,
      e2e.keyring,
      e2e.save,
      undefined,
      () => e2e.onServer?.held(),
    ).then(
      (held) => topUps.done?.(held),
      (error) => {
        if (client.isOver) return;
        // Refused: unless a bundle was taken before, the server has no
        // keys of ours, and says "no keys" to a note to ourselves.
        e2e.onServer?.refused();
        if (error instanceof E2eKeyError && error.code === "bad_request") {
          unsupported = true;
          return;
        }
        emit({
          type: "notice",
          // The server's error text, quoted.
          text: `End-to-end keys not published: ${
            sanitizeForTerminal(
              error instanceof Error ? error.message : String(error),
            )
          }`,
        });
      },
    );
  const first = publish();
  keepToppedUp(client, () => {
    if (!unsupported) void publish();
  }, topUps.everyMs ?? TOP_UP_EVERY_MS);
  return first;
}
