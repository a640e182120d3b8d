/**
 * The welcome's `own_after` (docs/PROTOCOL.md 5.3): a name's next key, after
 * `chat admin release`, is told up to which message id its name's lines
 * were another key's, so that /history shows those as someone else's.
 */

import assert from "node:assert/strict";
import { openStore } from "../../src/store/sqlite_store.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";

Deno.test("register welcomes a released name's next key with own_after, the last message id before it held the name, and a never released name without", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const old = await TestClient.connect(server, "alice", await testIdentity());
  assert.equal(old.client.ownAfter, 0);
  assert.equal((await old.client.say("said by the old key")).t, "ok");
  await old.quit();
  const oldLine = store.lastMessageId();
  assert.ok(oldLine > 0);
  assert.ok(store.releaseName("alice", 0));

  const nextKey = await testIdentity();
  const next = await TestClient.connect(server, "alice", nextKey);
  try {
    assert.equal(next.client.ownAfter, oldLine);
    assert.equal((await next.client.say("said by the next key")).t, "ok");
    // What history answers with falls on either side of it.
    assert.equal((await next.client.request({ t: "history" })).t, "ok");
    const ids = next.inbox.flatMap(({ message, text }) =>
      message.t === "public" ? [[text, message.id]] : []
    );
    assert.deepEqual(ids.map(([text]) => text), [
      "said by the old key",
      "said by the next key",
    ]);
    assert.ok((ids[0]![1] as number) <= oldLine);
    assert.ok((ids[1]![1] as number) > oldLine);
    // The same key signing in again is told the same.
    await next.quit();
    const again = await TestClient.connect(server, "alice", nextKey);
    assert.equal(again.client.ownAfter, oldLine);
    await again.quit();
  } finally {
    if (!next.client.isOver) await next.quit();
  }
});
