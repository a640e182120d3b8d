/**
 * Publishing the user's end-to-end keys at every sign-in (issue 17).
 *
 * @module
 */

import type { ChatClient } from "./chat_client.ts";
import { E2eKeyError, type Keyring, publishPrekeys } from "./e2e_keys.ts";
import type { SessionEvent } from "./session_events.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";

/** The keyring to publish, and where new one-time keys are saved first. */
export interface KeysToPublish {
  keyring: Keyring;
  save: (keyring: Keyring) => Promise<void>;
}

/**
 * Publishes our end-to-end keys and tops up one-time keys, in the
 * background: chat does not wait for it, but quitting does (session.ts),
 * so the promise returned settles, never rejecting, once the publish has
 * ended however it ended. A server from before end-to-end keys answers
 * `bad_request`, and is left alone.
 */
export function publishKeys(
  client: ChatClient,
  e2e: KeysToPublish | undefined,
  emit: (event: SessionEvent) => void,
): Promise<void> {
  if (e2e === undefined) return Promise.resolve();
  return publishPrekeys(client, e2e.keyring, e2e.save).then(
    () => {},
    (error) => {
      if (client.isOver) return;
      if (error instanceof E2eKeyError && error.code === "bad_request") return;
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
}
