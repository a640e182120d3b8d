/**
 * Keys of skipped messages (docs/PROTOCOL.md 11.4) that classmates make a
 * user keep: each account a classmate makes can have them keep 2000 with
 * three messages through a real server, and the accounts together must not
 * grow the user's end-to-end state without end (it is rewritten at every
 * message, and not read back past 64 MiB).
 */

import assert from "node:assert/strict";
import { createKeyring, fetchBundle } from "../../src/client/e2e_keys.ts";
import { encodeContent } from "../../src/client/e2e_sessions.ts";
import {
  type E2eState,
  encodeE2eState,
  MAX_SKIPPED_KEYS_IN_ALL,
} from "../../src/client/e2e_state.ts";
import {
  type E2eSession,
  initiateSession,
  sealEnvelope,
} from "../../src/crypto/e2e_envelope.ts";
import { MAX_SKIP, MAX_SKIPPED_KEYS } from "../../src/crypto/ratchet.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
import {
  assertShown,
  cid,
  e2ePeer,
  nextE2e,
  sendE2e,
} from "../_helpers/e2e_peer.ts";

/** Skipped message keys `state` keeps, in all its sessions. */
function skippedKeys(state: E2eState): number {
  let total = 0;
  for (const peer of state.sessions.values()) {
    for (const session of [peer.session, ...peer.previous]) {
      total += session.ratchet.skipped.size;
    }
  }
  return total;
}

Deno.test("E2eSessions keeps at most MAX_SKIPPED_KEYS_IN_ALL skipped message keys: a classmate's accounts skipping 2000 each do not grow the state without end, and an honest peer's late messages still open", async () => {
  await using server = await startTestServer();
  const bob = await e2ePeer(server, "bob");
  const alice = await e2ePeer(server, "alice");

  // alice's messages 2 and 3 are overtaken by 4 (say, sent again later):
  // bob keeps the keys of the two he skipped.
  await sendE2e(alice, "bob", "one");
  for (const text of ["two", "three", "four"]) {
    await sendE2e(alice, "bob", text);
  }
  const first = await nextE2e(bob);
  assertShown(
    await bob.e2e.open(bob.client, first.message, first.body),
    "alice",
    "one",
  );
  const late = [await nextE2e(bob), await nextE2e(bob)];
  const four = await nextE2e(bob);
  assertShown(
    await bob.e2e.open(bob.client, four.message, four.body),
    "alice",
    "four",
  );
  assert.equal(skippedKeys(bob.state), 2);

  // A classmate's accounts, each sending bob three genuine messages: the
  // first, then one MAX_SKIP ahead, twice (the ones between never sent).
  const accounts = Math.ceil(MAX_SKIPPED_KEYS_IN_ALL / MAX_SKIPPED_KEYS) + 1;
  for (let k = 0; k < accounts; k++) {
    const name = `mallory${k}`;
    const identity = await testIdentity();
    const own = await createKeyring(identity);
    const { client } = await TestClient.connect(server, name, identity);
    const fetched = await fetchBundle(client, "bob");
    let session: E2eSession = await initiateSession({
      identity: identity.publicRaw,
      dh: own.bundle.dh,
      dhPair: own.secrets.dh,
    }, fetched.bundle);
    const seal = async (text: string) => {
      const out = await sealEnvelope(
        session,
        encodeContent({ type: "text", from: name, to: "bob", text }),
      );
      session = out.session;
      return out.envelope;
    };
    const send = async (text: string) => {
      const reply = await client.request({
        t: "e2e_msg",
        to: "bob",
        fingerprint: fetched.fingerprint,
        cid: cid(),
      }, await seal(text));
      assert.equal(reply.t, "ok", JSON.stringify(reply));
      const got = await nextE2e(bob);
      assertShown(
        await bob.e2e.open(bob.client, got.message, got.body),
        name,
        text,
      );
    };
    await send("hi");
    for (let round = 0; round < MAX_SKIPPED_KEYS / MAX_SKIP; round++) {
      for (let i = 0; i < MAX_SKIP; i++) await seal("never sent");
      await send(`round ${round}`);
    }
    await client.quit();
  }

  const kept = skippedKeys(bob.state);
  const bytes = encodeE2eState(bob.state).length;
  assert.ok(
    kept <= MAX_SKIPPED_KEYS_IN_ALL,
    `bob keeps ${kept} skipped keys (${bytes} bytes of state) from ${accounts} accounts`,
  );
  // alice held few: hers were not the ones dropped.
  for (const [i, text] of ["two", "three"].entries()) {
    assertShown(
      await bob.e2e.open(bob.client, late[i]!.message, late[i]!.body),
      "alice",
      text,
    );
  }
  // And what bob keeps survives a restart as it is.
  bob.restart();
  assert.equal(skippedKeys(bob.state), kept - 2);
  await Promise.all([bob.client.quit(), alice.client.quit()]);
});
