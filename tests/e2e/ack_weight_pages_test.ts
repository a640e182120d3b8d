/**
 * The pages of what waited for a user at sign-in (docs/PROTOCOL.md 5.3)
 * come one after the other as the client acknowledges them, and an `ack`
 * weighs a token per 16 conversations (5.8): a user owed messages in many
 * conversations acknowledges a page with acks heavier than one token. A
 * real server and store, the reference client with the server's default
 * rate limits.
 */

import assert from "node:assert/strict";
import { openStore } from "../../src/store/sqlite_store.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";

/** Conversations (senders), one message waiting in each: two pages. */
const SENDERS = 1200;

Deno.test("a user owed messages in 1200 conversations gets them all with the server's default rate: the acks that let the next page come are not left held", async () => {
  await using stack = new AsyncDisposableStack();
  const store = openStore(":memory:");
  stack.defer(() => store.close());
  const key = await testIdentity();
  {
    await using away = await startTestServer({ store });
    await (await TestClient.connect(away, "sophia", key)).quit();
  }
  // What waited, written while sophia was away: one message from each of
  // many users (as their servers stored it, without their thousand sign-ins).
  const body = new TextEncoder().encode("hello");
  store.transaction(() => {
    for (let n = 0; n < SENDERS; n++) {
      store.ensureUser(`user${n}`, `user${n}`, n);
      store.appendMessage({
        kind: "private",
        toKey: "sophia",
        ts: n,
        fromKey: `user${n}`,
        fromName: `user${n}`,
        body,
        recipients: [{ userKey: "sophia", delivered: false }],
      });
    }
  });
  // The server's default limits.
  const server = stack.use(await startTestServer({ store }));
  const sophia = await TestClient.connect(server, "sophia", key);
  stack.defer(() => sophia.quit());
  const privates = () =>
    sophia.inbox.filter(({ message }) => message.t === "private").length;
  // Each page comes at once after the ack of the one before.
  let seen = 0;
  while (seen < SENDERS) {
    await sophia.waitFor(() => privates() > seen, 3000).catch(() => {
      throw new Error(`${privates()} of ${SENDERS} came, then nothing`);
    });
    seen = privates();
  }
  assert.equal(seen, SENDERS);
});
