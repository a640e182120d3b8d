/**
 * E2eSessions against a server that lies (issue 17; docs/PROTOCOL.md 11.7):
 * the messages a hostile host would hand a client, built from what a real
 * server relayed, are refused and never shown as someone's message.
 */

import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import {
  assertRefused,
  assertShown,
  e2ePeer,
  nextE2e,
  sendE2e,
} from "../_helpers/e2e_peer.ts";

Deno.test("E2eSessions.open does not show an archived message again under another sender or recipient", async () => {
  await using server = await startTestServer();
  const alice = await e2ePeer(server, "alice");
  const bob = await e2ePeer(server, "bob");
  const carol = await e2ePeer(server, "carol");
  try {
    // Carol and bob have a session, so carol's key is known to bob.
    await sendE2e(carol, "bob", "hello bob");
    const fromCarol = await nextE2e(bob);
    assertShown(
      await bob.e2e.open(bob.client, fromCarol.message, fromCarol.body),
      "carol",
      "hello bob",
    );
    const sent = await sendE2e(alice, "bob", "meet at noon");
    const got = await nextE2e(bob);
    assertShown(
      await bob.e2e.open(bob.client, got.message, got.body),
      "alice",
      "meet at noon",
    );
    // The server hands bob alice's message again, as carol's.
    assertRefused(
      await bob.e2e.open(bob.client, {
        ...got.message,
        from: "carol",
        fingerprint: fromCarol.message.fingerprint,
      }, got.body),
      /^ERROR: A private message from carol could not be opened/,
    );
    // And hands alice her own message as if bob had written it to her.
    assert.equal(sent.id, got.message.id);
    assertRefused(
      await alice.e2e.open(alice.client, {
        ...got.message,
        from: "bob",
        fingerprint: await bobFingerprint(bob.client),
      }, got.body),
      /^ERROR: A private message from bob could not be opened/,
    );
    // Or as her message to carol, in a history.
    assertRefused(
      await alice.e2e.open(alice.client, {
        ...got.message,
        from: "alice",
        to: "carol",
        history: true,
      }, got.body),
      /^ERROR: /,
    );
    // The genuine ones still show from the archive.
    assertShown(
      await bob.e2e.open(bob.client, got.message, got.body),
      "alice",
      "meet at noon",
    );
    assertShown(
      await alice.e2e.open(alice.client, {
        ...got.message,
        from: "alice",
        to: "bob",
        history: true,
      }, got.body),
      "alice",
      "meet at noon",
    );
  } finally {
    for (const p of [alice, bob, carol]) await p.client.quit();
  }
});

async function bobFingerprint(
  client: { request: (m: { t: "list" }) => Promise<unknown> },
): Promise<string> {
  const users = await client.request({ t: "list" }) as {
    users: { name: string; fingerprint?: string }[];
  };
  return users.users.find((u) => u.name === "bob")!.fingerprint!;
}
