/**
 * FileKeyInbox against a classmate (docs/PROTOCOL.md 11.10): file keys come
 * end to end before their offers and are kept (256 at most) until an offer
 * asks, once the lines before it are shown. Mallory's stream of keys for
 * offers that never come must not push out alice's key, received first,
 * before her offer asks for it. Real clients through a real server; about
 * 15 s (the server's rate: 20 messages a second), so in the slow task.
 */

import assert from "node:assert/strict";
import {
  encodeFileSecret,
  FileKeyInbox,
  fileSecretLabel,
  newFileKeyId,
} from "../../src/client/file_key_share.ts";
import { newFileKey } from "../../src/crypto/file_cipher.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { cid, type E2ePeer, e2ePeer } from "../_helpers/e2e_peer.ts";

/** Sends a file key end to end, again as the rate allows. */
async function sendKey(from: E2ePeer, keyId: string, name: string) {
  for (;;) {
    const reply = await from.e2e.sendSecret(
      from.client,
      "bob",
      fileSecretLabel(keyId),
      encodeFileSecret(newFileKey(), name, 10),
      cid(),
    );
    if (reply.t === "ok") return;
    assert.equal(
      reply.t === "error" && reply.code,
      "slow_down",
      JSON.stringify(reply),
    );
    // 50 refusals in a row would end the connection.
    await new Promise((resolve) => setTimeout(resolve, 60));
  }
}

Deno.test("FileKeyInbox keeps a sender's key for its offer while a classmate sends 300 keys for offers that never come: the classmate's own go first", async () => {
  await using server = await startTestServer();
  const bob = await e2ePeer(server, "bob");
  const alice = await e2ePeer(server, "alice");
  const mallory = await e2ePeer(server, "mallory");
  const inbox = new FileKeyInbox();
  const aliceKey = newFileKeyId();
  await sendKey(alice, aliceKey, "plan.txt");
  for (let i = 0; i < 300; i++) await sendKey(mallory, newFileKeyId(), "x");
  // Everything is in once a ping sent now is answered.
  await bob.client.request({ t: "ping" });
  assert.equal(bob.inbox.length, 301);
  for (const { message, body } of bob.inbox.splice(0)) {
    const opened = await bob.e2e.open(bob.client, message, body);
    assert.equal(opened.kind, "secret", JSON.stringify(opened));
    if (opened.kind !== "secret") continue;
    assert.ok(inbox.deliver(opened.from, opened.label, opened.secret));
  }
  // Alice's offer asks now (its turn came after others' lines).
  const offer: FileOfferNotice = {
    t: "file_offer",
    xfer: 1,
    from: "alice",
    name: "(end-to-end)",
    size: 10,
    timeout: 90_000,
    key_id: aliceKey,
  };
  const taken = await inbox.take(offer, 0);
  assert.ok(!("error" in taken), JSON.stringify(taken));
  assert.equal(taken.name, "plan.txt");
  await Promise.all([bob, alice, mallory].map((p) => p.client.quit()));
});
