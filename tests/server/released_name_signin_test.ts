/**
 * A name the operator released, signed in with a new identity key while the
 * old key's session is still connected (its goodbye not read yet, as when it
 * quit just before): the old session is replaced, and the new one is served
 * like any other. Suspected, and ruled out, for a CI failure in which a new
 * key's second e2e_keys found its connection lost
 * (e2e_sessions_hostile_test, bobWithNewKey).
 */

import assert from "node:assert/strict";
import { fetchBundle } from "../../src/client/e2e_keys.ts";
import { identityFingerprint } from "../../src/crypto/identity.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { e2ePeer, nextE2e, sendE2e } from "../_helpers/e2e_peer.ts";

Deno.test("a released name taken by a new key while the old session is connected: the old is replaced, the new publishes and is reached", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const alice = await e2ePeer(server, "alice");
  const oldBob = await e2ePeer(server, "bob");
  let newBob: Awaited<ReturnType<typeof e2ePeer>> | null = null;
  try {
    assert.ok(store.releaseName("bob"));
    // Signs in and publishes a full bundle (e2ePeer: an empty top-up, then
    // all its one-time keys in one e2e_keys).
    newBob = await e2ePeer(server, "bob");
    const ending = await oldBob.client.ended;
    assert.equal(ending.clean, true, JSON.stringify(ending));
    assert.equal(ending.bye, "replaced");
    // Alice is handed the new key's bundle, with a one-time key.
    const fetched = await fetchBundle(alice.client, "bob");
    assert.equal(
      fetched.fingerprint,
      await identityFingerprint(newBob.identity.publicRaw),
    );
    assert.equal(fetched.bundle.oneTime.length, 1);
    // The old key's late goodbye (its quit after the replacement) changes
    // nothing for the new session.
    await oldBob.client.quit();
    await sendE2e(newBob, "alice", "new key");
    const got = await nextE2e(alice);
    assert.equal(got.message.from, "bob");
    assert.equal(newBob.client.isOver, false);
  } finally {
    await alice.client.quit();
    await newBob?.client.quit();
  }
});
