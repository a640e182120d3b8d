/**
 * What someone the user /ignored sends end to end and does not open says
 * nothing, and tells them nothing: a sender looping messages that cannot
 * open put an ERROR line on the screen for each, and had a notice sent back
 * each time, however ignored. Real E2eSessions on a real server.
 */

import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import { e2ePeer, nextE2e, sendE2e } from "../_helpers/e2e_peer.ts";

Deno.test("E2eSessions.open of a message from someone ignored that does not open says nothing and sends no unreadable notice", async () => {
  await using server = await startTestServer();
  const ignoring = new Set<string>();
  const bob = await e2ePeer(server, "bob", undefined, {
    ignored: (name) => ignoring.has(name),
  });
  const mallory = await e2ePeer(server, "mallory");
  const alice = await e2ePeer(server, "alice");
  try {
    const open = async () => {
      const { message, body } = await nextE2e(bob);
      return await bob.e2e.open(bob.client, message, body);
    };
    // A session, then forgotten by bob: what mallory sends on it cannot
    // open, and would be told back (as forgotten_session_test).
    await sendE2e(mallory, "bob", "hello");
    assert.equal((await open()).kind, "message");
    const forget = () => bob.state.sessions.clear();
    // Told, when not ignored: the control.
    forget();
    await sendE2e(mallory, "bob", "lost");
    const said = await open();
    assert.equal(said.kind, "refused");
    assert.match(
      said.kind === "refused" ? said.lines.join("\n") : "",
      /^ERROR: A private message from mallory could not be opened/,
    );
    // bob's notice goes ahead of what bob sends next (one queue, one
    // connection): once alice has that, mallory's notice reached her too.
    await sendE2e(bob, "alice", "after the notice");
    await nextE2e(alice);
    await nextE2e(mallory);
    mallory.inbox.length = 0;

    ignoring.add("mallory");
    // mallory goes on with the session bob no longer has.
    await sendE2e(mallory, "bob", "from someone ignored");
    const unsaid = await open();
    assert.deepEqual(unsaid, { kind: "refused", lines: [] });
    assert.deepEqual(bob.notes, []);
    await sendE2e(bob, "alice", "after no notice");
    await nextE2e(alice);
    await mallory.client.request({ t: "ping" });
    assert.deepEqual(
      mallory.inbox.map(({ message }) => message.from),
      [],
      "mallory was sent an unreadable notice",
    );
  } finally {
    await bob.client.quit();
    await mallory.client.quit();
    await alice.client.quit();
  }
});
