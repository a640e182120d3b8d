/**
 * offerWithPatience against a real server whose message rate is spent: an
 * offer refused with slow_down goes again after the pause.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { offerWithPatience } from "../../src/client/offer_with_patience.ts";
import { startTestServer, testIdentity } from "../_helpers/chat.ts";

Deno.test("offerWithPatience sends an offer refused with slow_down again after the pause, and resolves with the server's real answer", async () => {
  // Two messages a second, three at once: spent, one comes back in 500 ms.
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 2, messageBurst: 3 },
  });
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const welcome = await client.register("sophia", await testIdentity());
    assert.equal(welcome.t, "welcome", JSON.stringify(welcome));
    let refused = 0;
    for (let i = 0; refused === 0; i++) {
      const reply = await client.say(`drain ${i}`);
      if (reply.t === "error" && reply.code === "slow_down") refused++;
    }
    const listed: number[] = [];
    const unlisted: number[] = [];
    const reply = await offerWithPatience(client, {
      t: "file_offer",
      to: "ghost",
      name: "notes.txt",
      size: 10,
    }, {
      listed: (offer) => listed.push(offer),
      unlisted: (offer) => unlisted.push(offer),
      passedOn: () => assert.fail("a refused offer was said passed on"),
    });
    // The answer past the refusal: ghost is not online.
    assert.ok(reply !== "withdrawn");
    assert.equal(reply.t, "error");
    assert.equal(
      reply.t === "error" ? reply.code : null,
      "no_such_user",
      JSON.stringify(reply),
    );
    assert.ok(listed.length >= 2, `offered ${listed.length} times`);
    assert.equal(new Set(listed).size, listed.length, "a number each try");
    assert.deepEqual(unlisted.sort(), [...listed].sort(), "none left listed");
  } finally {
    await client.quit();
  }
});
