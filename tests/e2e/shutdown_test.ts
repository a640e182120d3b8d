import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

Deno.test("RunningServer.shutdown tells every client with an encrypted goodbye and closes", async () => {
  const server = await startTestServer();
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await TestClient.connect(server, "jojo");
  const started = Date.now();
  await server.shutdown();
  assert.ok(Date.now() - started < 3000, "shutdown is prompt");
  for (const client of [sophia, jojo]) {
    const ending = await client.client.ended;
    assert.deepEqual(ending, {
      clean: true,
      reason: "Server is shutting down.",
      bye: "shutdown",
    });
    assert.ok(
      client.inbox.some((m) =>
        m.message.t === "bye" && m.message.reason === "shutdown"
      ),
    );
  }
  await assert.rejects(
    ChatClient.connect(server.url, { pinnedSpki: server.spki }),
  );
});

Deno.test("ChatClient.ended reports a cut connection as not clean, and pending requests fail", async () => {
  await using server = await startTestServer();
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await TestClient.connect(server, "jojo");
  const pending = jojo.client.request({ t: "list" });
  jojo.client.abort();
  const ending = await jojo.client.ended;
  assert.equal(ending.clean, false);
  const reply = await pending;
  assert.equal(reply.t === "error" && reply.code, "internal");
  assert.match(reply.t === "error" ? reply.text : "", /^ERROR: Not sent: /);
  await sophia.waitFor((m) => m.message.t === "presence" && !m.message.online);
  await sophia.quit();
  assert.deepEqual(await sophia.client.ended, {
    clean: true,
    reason: "Disconnected.",
  });
});

Deno.test("ChatClient.quit right after sending: every message before the goodbye is still handled", async () => {
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  const listener = await TestClient.connect(server, "listener");
  const talker = await TestClient.connect(server, "talker");
  // Not awaited: large enough to fill several 1 MiB frames, which the server
  // is still decrypting when the goodbye and the close arrive.
  const padding = "x".repeat(12_000);
  for (let i = 0; i < 300; i++) {
    void talker.client.say(`last words ${i} ${padding}`);
  }
  await talker.client.quit();
  await listener.waitFor((m) =>
    m.message.t === "presence" && !m.message.online
  );
  const heard = listener.inbox.filter((m) => m.message.t === "public").map((
    m,
  ) => m.text);
  assert.equal(heard.length, 300);
  assert.equal(
    heard.at(-1)?.split(" ").slice(0, 3).join(" "),
    "last words 299",
  );
  await listener.quit();
});
