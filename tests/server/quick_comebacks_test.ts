/**
 * A class behind one address whose Wi-Fi drops twice within seconds, against
 * a real server on an ephemeral port: the second time, their sessions had
 * not lasted `comebackSettledMs`, and the sign-ins of the address (spent by
 * the class signing in) refused them for minutes (comebacks.ts).
 */

import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../_helpers/chat.ts";
import { until } from "../_helpers/bystanders.ts";
import { ChatClient } from "../../src/client/chat_client.ts";
import {
  generateIdentity,
  type Identity,
  importIdentityPem,
} from "../../src/crypto/identity.ts";

/** Signs every one of `ids` in at once; the replies to their registers. */
async function signInAll(
  server: TestServer,
  ids: Identity[],
): Promise<{ clients: ChatClient[]; replies: string[] }> {
  const clients = await Promise.all(
    ids.map(() => ChatClient.connect(server.url, { pinnedSpki: server.spki })),
  );
  const replies = await Promise.all(
    clients.map(async (client, i) => {
      const reply = await client.register(`kid${i}`, ids[i]);
      return reply.t === "welcome" ? "welcome" : JSON.stringify(reply);
    }),
  );
  return { clients, replies };
}

Deno.test("startServer lets a class behind one address back from two Wi-Fi drops seconds apart without spending its sign-ins", async () => {
  const settledMs = 1000;
  const size = 5;
  await using server = await startTestServer({
    connectionLimits: {
      // Loopback counted as any address; the class spends the burst.
      limitNewNamesFromLoopback: true,
      signInBurstPerAddress: size,
      signInsPerMinutePerAddress: 1,
      comebackSettledMs: settledMs,
    },
  });
  const ids = await Promise.all(
    Array.from(
      { length: size },
      async () => importIdentityPem((await generateIdentity()).privatePem),
    ),
  );
  let { clients, replies } = await signInAll(server, ids);
  assert.deepEqual(replies, Array(size).fill("welcome"), "first sign-in");
  try {
    // Settled: signed in for settledMs.
    const signedIn = performance.now();
    await until(
      () => performance.now() - signedIn > settledMs + 100,
      "the sessions to settle",
    );
    for (let drop = 1; drop <= 2; drop++) {
      for (const client of clients) client.abort();
      ({ clients, replies } = await signInAll(server, ids));
      assert.deepEqual(replies, Array(size).fill("welcome"), `drop ${drop}`);
    }
  } finally {
    for (const client of clients) client.abort();
  }
});
