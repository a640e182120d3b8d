/**
 * The terminal client's transport (TcpWebSocketConnection) against a real
 * server on an ephemeral port: chat, a file, and the goodbye.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FileReceiver } from "../../src/client/file_receiver.ts";
import { FileSender } from "../../src/client/file_sender.ts";
import { fileAead } from "../../src/crypto/native_aead.ts";
import {
  openTerminalConnection,
  TcpWebSocketConnection,
} from "../../src/transport/tcp_websocket.ts";
import { WebSocketConnection } from "../../src/transport/connection.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { chatBothWays, terminalClient } from "../_helpers/terminal_client.ts";

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
  const alice = await terminalClient(server, "alice");
  const bob = await terminalClient(server, "bob");
  // 100, 3,000 and 12,000 bytes of UTF-8 (the longest text is 4,000 characters).
  await chatBothWays(alice, bob, [
    "x".repeat(100),
    "é".repeat(1500),
    "€".repeat(4000),
  ]);
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
  await using temp = await tempDir("chat-tcp-ws-");
  const root = temp.path;
  await using server = await startTestServer();
  const sophia = await terminalClient(server, "sophia");
  const jojo = await terminalClient(server, "jojo");
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
});
