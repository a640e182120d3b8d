/**
 * The terminal client's transport (TcpWebSocketConnection) against a real
 * server on an ephemeral port: chat, a file, and the goodbye.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ChatClient } from "../../src/client/chat_client.ts";
import { FileReceiver } from "../../src/client/file_receiver.ts";
import { FileSender } from "../../src/client/file_sender.ts";
import { fileAead } from "../../src/crypto/native_aead.ts";
import {
  openTerminalConnection,
  TcpWebSocketConnection,
} from "../../src/transport/tcp_websocket.ts";
import { WebSocketConnection } from "../../src/transport/connection.ts";
import {
  startTestServer,
  TestClient,
  type TestServer,
} from "../_helpers/chat.ts";

/** A registered client whose WebSocket is a TcpWebSocketConnection. */
async function overTcp(server: TestServer, name: string): Promise<TestClient> {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
    openConnection: openTerminalConnection,
  });
  const reply = await client.register(name);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return new TestClient(client);
}

Deno.test("openTerminalConnection opens ws:// over TcpWebSocketConnection", async () => {
  await using server = await startTestServer();
  const conn = await openTerminalConnection(server.url);
  assert.ok(conn instanceof TcpWebSocketConnection);
  assert.ok(!(conn instanceof WebSocketConnection));
  conn.close();
  await conn.closed;
});

Deno.test("ChatClient over TcpWebSocketConnection: messages of 3,000 bytes and more go round, and quitting is clean", async () => {
  await using server = await startTestServer();
  const alice = await overTcp(server, "alice");
  const bob = await overTcp(server, "bob");
  // 100, 3,000 and 12,000 bytes of UTF-8 (the longest text is 4,000 characters).
  for (const text of ["x".repeat(100), "é".repeat(1500), "€".repeat(4000)]) {
    const said = await alice.client.say(text);
    assert.equal(said.t, "ok", JSON.stringify(said));
    const heard = await bob.waitFor((m) =>
      m.message.t === "public" && m.text === text
    );
    assert.equal(heard.message.t === "public" && heard.message.from, "alice");
    const sent = await bob.client.msg("alice", text);
    assert.equal(sent.t, "ok", JSON.stringify(sent));
    await alice.waitFor((m) => m.message.t === "private" && m.text === text);
  }
  assert.deepEqual(await alice.client.quit(), {
    clean: true,
    reason: "Disconnected.",
  });
  await bob.waitFor((m) =>
    m.message.t === "presence" && m.message.name === "alice" &&
    !m.message.online
  );
  await bob.client.quit();
});

Deno.test("a 24 MiB file goes from one TcpWebSocketConnection client to another byte for byte", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-tcp-ws-" });
  try {
    await using server = await startTestServer();
    const sophia = await overTcp(server, "sophia");
    const jojo = await overTcp(server, "jojo");
    const saved: string[] = [];
    new FileReceiver(jojo.client, {
      downloadsDir: `${root}/downloads`,
      maxFileBytes: 1024 ** 3,
      open: false,
      openWith: null,
      consent: () => Promise.resolve("accept"),
      print: (line) => {
        if (line.startsWith("Saved to ")) saved.push(line);
      },
      fileAead,
    });
    const bytes = new Uint8Array(24 * 1024 * 1024);
    for (let at = 0; at < bytes.length; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, at + 65536));
    }
    await Deno.writeFile(`${root}/big.bin`, bytes);
    const sender = new FileSender(sophia.client, null, fileAead);
    const outcome = await sender.send({ to: "jojo" }, `${root}/big.bin`);
    assert.equal(outcome.kind, "finished", JSON.stringify(outcome));
    // The receiver says so in the turn it sends its verdict, long before
    // the verdict reaches the sender.
    assert.deepEqual(saved, [`Saved to ${root}/downloads/big.bin`]);
    const digest = (data: Uint8Array) =>
      createHash("sha256").update(data).digest("hex");
    assert.equal(
      digest(await Deno.readFile(`${root}/downloads/big.bin`)),
      digest(bytes),
    );
    await Promise.all([sophia.quit(), jojo.quit()]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
