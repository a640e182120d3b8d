/**
 * The end-to-end test peers' failures say why (tests/_helpers/e2e_peer.ts,
 * explained): a publish on a connection that was lost names how it ended
 * and what the server logged, not only "Not sent".
 */

import assert from "node:assert/strict";
import { createKeyring, publishPrekeys } from "../../src/client/e2e_keys.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
import { explained } from "../_helpers/e2e_peer.ts";

Deno.test("explained: a publish on a lost connection says how it ended and what the server logged", async () => {
  await using server = await startTestServer();
  const identity = await testIdentity();
  const { client } = await TestClient.connect(server, "alice", identity);
  const keyring = await createKeyring(identity);
  client.abort();
  await client.ended;
  await assert.rejects(
    explained(server, client, () => publishPrekeys(client, keyring)),
    (error: Error) => {
      assert.match(
        error.message,
        /^ERROR: Not sent: the connection to the server was lost\.$/m,
      );
      assert.match(error.message, /^The connection ended: .*"clean":false/m);
      assert.match(error.message, /^alice registered from 127\.0\.0\.1:/m);
      return true;
    },
  );
});

Deno.test("explained: what succeeds is returned as it is", async () => {
  await using server = await startTestServer();
  const identity = await testIdentity();
  const { client } = await TestClient.connect(server, "alice", identity);
  try {
    const keyring = await createKeyring(identity);
    const held = await explained(
      server,
      client,
      () => publishPrekeys(client, keyring),
    );
    assert.ok(held > 0);
  } finally {
    await client.quit();
  }
});
