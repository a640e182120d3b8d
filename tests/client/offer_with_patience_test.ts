/**
 * offerWithPatience against a real server whose message rate is spent: an
 * offer refused with slow_down goes again after the pause.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { offerWithPatience } from "../../src/client/offer_with_patience.ts";
import { startTestServer, testIdentity } from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

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

Deno.test("offerWithPatience says an offer passed on when the ping sent after it is itself refused with slow_down", async () => {
  // One message a second, two at once: the offer takes the last token, and
  // the ping sent right after it to learn that it was passed on is
  // refused (before, it was never said passed on, its turn held until
  // bob answered).
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 1, messageBurst: 2 },
  });
  const sophia = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const bob = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    assert.equal(
      (await sophia.register("sophia", await testIdentity())).t,
      "welcome",
    );
    assert.equal(
      (await bob.register("bob", await testIdentity())).t,
      "welcome",
    );
    const offered = Promise.withResolvers<void>();
    bob.onMessage(({ message }) => {
      if (message.t === "file_offer") offered.resolve();
    });
    let refused = 0;
    for (let i = 0; refused === 0; i++) {
      const reply = await sophia.say(`drain ${i}`);
      if (reply.t === "error" && reply.code === "slow_down") refused++;
    }
    const passedOn = Promise.withResolvers<void>();
    let withdraw = () => {};
    const reply = offerWithPatience(sophia, {
      t: "file_offer",
      to: "bob",
      name: "notes.txt",
      size: 10,
    }, {
      listed: (_, take) => withdraw = take,
      unlisted: () => {},
      passedOn: () => passedOn.resolve(),
    });
    // Bob is asked, and never answers (his offer waits 90 s).
    await offered.promise;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const said = await Promise.race([
      passedOn.promise.then(() => "passed on" as const),
      new Promise<"not said">((resolve) => {
        timer = setTimeout(() => resolve("not said"), WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    assert.equal(said, "passed on");
    withdraw();
    assert.equal(await reply, "withdrawn");
  } finally {
    await Promise.allSettled([sophia.quit(), bob.quit()]);
  }
});
