/**
 * `chat connect` says nothing of the end-to-end secrets someone it
 * /ignores sends it that it has no use for: mallory sending them in a loop
 * put a line on bob's screen for each, however ignored. Real `chat serve`
 * and `chat connect`; the senders are real E2eSessions.
 */

import assert from "node:assert/strict";
import type { TestServer } from "../_helpers/chat.ts";
import { cid, e2ePeer } from "../_helpers/e2e_peer.ts";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect says nothing of a secret it has no use for from someone it ignores", async () => {
  await using chat = await ServedChat.start("chat-ignored-secret-");
  await chat.serve();
  const [bob] = await chat.signIn(["bob"], { wanted: hasOneTimeKeys });
  // What e2ePeer needs of a server: where it is and its key.
  const server = {
    url: `ws://127.0.0.1:${chat.port}`,
    spki: await chat.pinnedSpki(),
    logs: [],
  } as unknown as TestServer;
  const mallory = await e2ePeer(server, "mallory");
  const carol = await e2ePeer(server, "carol");
  try {
    await bob.write("/ignore mallory\n");
    await bob.waitFor(/Ignoring mallory \(key /);
    const secret = new Uint8Array(32);
    const send = async (from: typeof mallory) => {
      const reply = await from.e2e.sendSecret(
        from.client,
        "bob",
        "mystery",
        secret,
        cid(),
      );
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    };
    await send(mallory);
    // Opened in the order they came (one queue): once carol's is said,
    // mallory's was dealt with.
    await send(carol);
    await bob.waitFor(
      /carol sent a secret for 'mystery', which this client has no use for yet/,
    );
    assert.doesNotMatch(bob.stdout + bob.stderr, /mallory sent a secret/);
  } finally {
    await mallory.client.quit();
    await carol.client.quit();
    await quit(bob);
  }
});
