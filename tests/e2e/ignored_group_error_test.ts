/**
 * `chat connect` says nothing of the sender keys for a group that someone
 * it /ignores sends and that are not kept: their group messages are not
 * even opened, but their end-to-end secrets are (one may hold their chain
 * for a group, needed once they are shown again), and mallory sending
 * malformed sender keys in a loop put an 'ERROR: mallory sent a malformed
 * sender key for crew' line on bob's screen for each, however ignored.
 * Real `chat serve` and `chat connect`; the senders are real E2eSessions.
 */

import assert from "node:assert/strict";
import type { TestServer } from "../_helpers/chat.ts";
import { cid, e2ePeer } from "../_helpers/e2e_peer.ts";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect says nothing of a malformed sender key from someone it ignores, and says it of others'", async () => {
  await using chat = await ServedChat.start("chat-ignored-group-error-");
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
    await bob.write("/create crew\n");
    await bob.waitFor(/Group 'crew' created and joined/);
    for (const peer of [mallory, carol]) {
      const joined = await peer.client.request({ t: "join", group: "crew" });
      assert.equal(joined.t, "ok", JSON.stringify(joined));
    }
    await bob.write("/ignore mallory\n");
    await bob.waitFor(/Ignoring mallory \(key /);
    // Three bytes are no sender key, whoever sends them.
    const send = async (from: typeof mallory) => {
      const reply = await from.e2e.sendSecret(
        from.client,
        "bob",
        "sender key crew",
        new Uint8Array([1, 2, 3]),
        cid(),
      );
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    };
    await send(mallory);
    // Opened in the order they came (one queue): once carol's is said,
    // mallory's was dealt with.
    await send(carol);
    await bob.waitForStderr(
      /ERROR: carol sent a malformed sender key for crew/,
    );
    assert.doesNotMatch(bob.stdout + bob.stderr, /mallory sent/);
  } finally {
    await mallory.client.quit();
    await carol.client.quit();
    await quit(bob);
  }
});
