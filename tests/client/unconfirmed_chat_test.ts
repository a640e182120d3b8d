/**
 * Chat lines go out one after the other in the order typed
 * (src/client/unconfirmed_chat.ts), across a lost connection too: a real
 * server whose rate limit refuses a line with slow_down (with_patience.ts
 * tries it again after a pause) and real connections, the first behind a
 * proxy that cuts it off.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { unconfirmedChat } from "../../src/client/unconfirmed_chat.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";

Deno.test("a line refused with slow_down whose connection is lost during its pause goes on the new one before the lines typed after it", async () => {
  // Ten messages a connection, then one each 20 s: none comes back during
  // the test.
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 1 / 20, messageBurst: 10 },
  });
  const proxy = new GateProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  const first = await ChatClient.connect(`ws://127.0.0.1:${proxy.port}`, {
    pinnedSpki: server.spki,
  });
  const second = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    assert.equal((await first.register("alice")).t, "welcome");
    assert.ok(first.recognisesRetries);
    // The first connection's tokens spent: its next line is refused.
    for (let i = 0;; i++) {
      const reply = await first.say(`drain ${i}`);
      if (reply.t === "error" && reply.code === "slow_down") break;
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    }
    assert.equal((await second.register("alice2")).t, "welcome");

    let current = first;
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => current,
    });
    const replies = ["a", "b", "c"].map((text) =>
      chats.send({ kind: "say", text })
    );
    // Answered in order: "a" was refused by now, and waits out its pause.
    await first.request({ t: "ping" });
    // The connection is lost and another takes over before "a" is tried
    // again (as a session's reconnection does: link, then retry).
    proxy.cut();
    current = second;
    chats.retry(second);
    for (const reply of await Promise.all(replies)) {
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    }

    await sophia.waitFor(({ text }) => text === "c");
    await sophia.waitFor(({ text }) => text === "a");
    const said = sophia.chat().map(([, , text]) => text).filter((text) =>
      !text.startsWith("drain")
    );
    assert.deepEqual(said, ["a", "b", "c"]);
  } finally {
    await second.quit();
    await first.quit().catch(() => {});
    await sophia.quit();
    await proxy.close();
  }
});
