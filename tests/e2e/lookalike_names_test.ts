/**
 * Look-alike names over a real server and real sockets: a name that reads as
 * another key's (`a1ice` for `alice`) is refused, and the owner of `alice`
 * may still take names like it.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { lookalikeRefusal } from "../../src/server/identity_gate.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";

Deno.test("a server refuses 'a1ice' to another key once 'alice' is bound, online or not, and alice's key takes 'alice2' and 'a1ice'", async () => {
  await using server = await startTestServer();
  const aliceKey = await testIdentity();
  const malloryKey = await testIdentity();
  const alice = await TestClient.connect(server, "alice", aliceKey);

  const mallory = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    assert.deepEqual(await mallory.register("a1ice", malloryKey), {
      t: "error",
      re: 1,
      code: "identity",
      text: lookalikeRefusal("a1ice", "alice"),
    });
    // Offline, alice's name is still hers to look like.
    await alice.quit();
    const refused = await mallory.register("AL1CE", malloryKey);
    assert.equal(
      refused.t === "error" && refused.text,
      lookalikeRefusal("AL1CE", "alice"),
    );
    // A name that only shares letters is anyone's, on the same connection.
    assert.equal((await mallory.register("alice_m", malloryKey)).t, "welcome");
  } finally {
    await mallory.quit();
  }

  // alice's own key may take names like her own.
  for (const name of ["alice2", "a1ice"]) {
    const again = await TestClient.connect(server, name, aliceKey);
    await again.quit();
  }
  assert.ok(
    server.logs.some((line) => line.startsWith("a1ice registered")),
    server.logs.join("\n"),
  );
});
