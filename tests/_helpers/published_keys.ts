/**
 * Waiting, as a third party, until a user's end-to-end keys are on the
 * server: nothing tells anyone else when a client has published them, so
 * a test asks for them (fetchBundle) until they are there.
 */

import assert from "node:assert/strict";
import type { ChatClient } from "../../src/client/chat_client.ts";
import {
  E2eKeyError,
  fetchBundle,
  type FetchedBundle,
} from "../../src/client/e2e_keys.ts";
import { WAIT_MS } from "./patience.ts";

/**
 * Asks through `probe` (a registered client) until the server has keys of
 * `name` that `wanted` accepts, at most `timeoutMs`; resolves with them.
 * Each bundle fetched uses up one of `name`'s one-time keys.
 */
export async function untilKeysPublished(
  probe: ChatClient,
  name: string,
  wanted: (fetched: FetchedBundle) => boolean = () => true,
  timeoutMs = WAIT_MS,
): Promise<FetchedBundle> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fetched = await fetchBundle(probe, name);
      if (wanted(fetched)) return fetched;
    } catch (error) {
      if (!(error instanceof E2eKeyError) || error.code !== "no_keys") {
        throw error;
      }
    }
    if (Date.now() > deadline) {
      assert.fail(`${name} published no wanted keys within ${timeoutMs} ms`);
    }
    // Polled, as nothing tells a third party that keys were published; at
    // ten a second, under the server's message rate (20 a second, 40 at
    // once), which asking again at once would soon pass: it answers
    // slow_down, and cuts a client off that goes on.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Keys with one-time keys among them, as a first message is best sealed to. */
export function hasOneTimeKeys({ bundle }: FetchedBundle): boolean {
  return bundle.oneTime.length > 0;
}
