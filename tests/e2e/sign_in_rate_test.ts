// Every sign-in tells everyone signed in that someone came (`presence`), and
// its end that they left. Before the sign-in rate, one address signing one
// account in and out as fast as it could connect put 133 such notices on an
// honest user's screen in 5 s (26 a second: 67 sign-ins), for as long as it
// went on.
import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { TOO_MANY_SIGN_INS } from "../../src/server/serve.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";

Deno.test("startServer: an address signing in and out past its sign-in rate is refused, and others are told of only what passed", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      // One a minute after a burst of 4: no token comes back during the test.
      signInsPerMinutePerAddress: 1,
      signInBurstPerAddress: 4,
      limitNewNamesFromLoopback: true,
    },
  });
  // The honest user's sign-in is the address's first (every test client is
  // on 127.0.0.1).
  const bob = await TestClient.connect(server, "bob");
  const identity = await testIdentity();
  const replies: string[] = [];
  for (let i = 0; i < 10; i++) {
    const churn = await ChatClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    const reply = await churn.register("mallory", identity);
    replies.push(
      reply.t === "welcome"
        ? "welcome"
        : reply.t === "error"
        ? `${reply.code}: ${reply.text}`
        : reply.t,
    );
    await churn.quit();
  }
  // Three tokens left, and no comeback: mallory's sessions last a moment,
  // and only one that lasted half a minute owes its name one (comebacks.ts).
  assert.deepEqual(replies, [
    "welcome",
    "welcome",
    "welcome",
    ...Array(7).fill(`limit: ${TOO_MANY_SIGN_INS}`),
  ]);
  // bob hears of the three that passed, each coming and going, and nothing
  // of the seven refused (a request answered after every notice sent before
  // it).
  await bob.client.request({ t: "list" });
  const presence = bob.inbox.flatMap(({ message }) =>
    message.t === "presence" ? [`${message.name} ${message.online}`] : []
  );
  assert.deepEqual(presence, [
    "mallory true",
    "mallory false",
    "mallory true",
    "mallory false",
    "mallory true",
    "mallory false",
  ]);
  await bob.quit();
});
