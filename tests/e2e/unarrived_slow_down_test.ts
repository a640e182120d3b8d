/**
 * A line the server refuses with `slow_down` (its message rate) goes again
 * after a pause (with_patience.ts) as the same sealed envelope
 * (sealed_retries.ts), not sealed anew: sealed anew, it took another key of
 * the sender's chain, and the recipient saw the first one's key skipped, a
 * message that never came (unarrived.ts) though the host was honest.
 */

import assert from "node:assert/strict";
import { UNARRIVED_GRACE_MS } from "../../src/client/unarrived.ts";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("private messages the server refused with slow_down and that went again: the recipient is told of none not arrived", async () => {
  await using chat = await ServedChat.start("chat-unarrived-slow-down-");
  await chat.serve("--data", chat.data, "--rate", "1", "--burst", "8");
  const [alice, bob] = await chat.signIn(["alice", "bob"], {
    wanted: hasOneTimeKeys,
  });
  // More lines at once than the burst leaves her: some are refused.
  const lines = Array.from({ length: 10 }, (_, i) => `/msg bob m${i + 1}\n`);
  await alice.write(lines.join(""));
  await bob.waitFor(/Private message from alice: m10/);
  // A skipped message is said only UNARRIVED_GRACE_MS after it was
  // skipped: waited out (its absence has no event to wait for).
  await new Promise((resolve) => setTimeout(resolve, UNARRIVED_GRACE_MS + 500));
  await alice.write("/msg bob last\n");
  await bob.waitFor(/Private message from alice: last/);
  await quit(alice);
  await quit(bob);
  assert.doesNotMatch(bob.stdout + bob.stderr, /not arrived|came late/);
});
