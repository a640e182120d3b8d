/**
 * The terminal client's transport over wss:// against a real server that
 * speaks TLS on its port (as `chat serve` does for browsers), its
 * self-signed certificate trusted by the test alone (`caCerts`): chat both
 * ways, no wait for delayed ACKs, and an untrusted certificate refused.
 */

import assert from "node:assert/strict";
import {
  openTerminalConnection,
  TcpWebSocketConnection,
  TlsHandshakeError,
} from "../../src/transport/tcp_websocket.ts";
import type { TestClient } from "../_helpers/chat.ts";
import { chatBothWays, terminalClient } from "../_helpers/terminal_client.ts";
import { startTlsServer, type TlsTestServer } from "../_helpers/tls.ts";

/** `name`, registered over `url` (`server.wss` unless given), trusting its certificate. */
function overTls(
  server: TlsTestServer,
  name: string,
  url = server.wss,
): Promise<TestClient> {
  return terminalClient(server, name, { url, caCerts: [server.cert] });
}

Deno.test("openTerminalConnection opens wss:// over TcpWebSocketConnection, by name and by address", async () => {
  await using server = await startTlsServer();
  for (
    const url of [server.wss, `wss://127.0.0.1:${server.port}/`]
  ) {
    const conn = await openTerminalConnection(url, { caCerts: [server.cert] });
    assert.ok(conn instanceof TcpWebSocketConnection, url);
    conn.close();
    await conn.closed;
  }
});

Deno.test("ChatClient over wss://: messages of 100 and 12,000 bytes go round both ways, and quitting is clean", async () => {
  await using server = await startTlsServer();
  const alice = await overTls(server, "alice");
  const bob = await overTls(server, "bob", `wss://127.0.0.1:${server.port}`);
  // 100 bytes, and the longest text there is (4,000 characters of 3 bytes).
  await chatBothWays(alice, bob, ["x".repeat(100), "€".repeat(4000)]);
  assert.deepEqual(await alice.client.quit(), {
    clean: true,
    reason: "Disconnected.",
  });
  await bob.client.quit();
});

Deno.test("a say of 3,000 bytes over wss:// is answered without waiting for a delayed ACK", async () => {
  // Deno's own WebSocket over TLS took 44 ms a round (Nagle's algorithm
  // holding the payload's write for the server's delayed ACK of the
  // header's); TCP_NODELAY under the TLS makes it about 1.5 ms on loopback.
  // A stall is 40 ms or more each time; a busy machine slows some rounds,
  // not every one (a median of 30.9 ms with two busy loops on a 2-core
  // machine, its fastest 1.8 ms): so the third fastest of 20 rounds under
  // 20 ms tells the two apart, and a stall still cannot pass by luck.
  await using server = await startTlsServer({
    // Twenty-five says within a few ms must not meet the flood limits.
    connectionLimits: { messageBurst: 1000, messageBurstPerAddress: 1000 },
  });
  const alice = await overTls(server, "alice");
  const text = "x".repeat(3000);
  const rounds: number[] = [];
  for (let i = 0; i < 25; i++) {
    const started = performance.now();
    const said = await alice.client.say(text);
    const ms = performance.now() - started;
    assert.equal(said.t, "ok", JSON.stringify(said));
    // The first few warm the path up (TLS buffers, JIT).
    if (i >= 5) rounds.push(ms);
  }
  rounds.sort((a, b) => a - b);
  const third = rounds[2]!;
  assert.ok(
    third < 20,
    `third fastest ${third.toFixed(1)} ms over ${rounds.length} rounds: ${
      rounds.map((ms) => ms.toFixed(1)).join(", ")
    }`,
  );
  await alice.client.quit();
});

Deno.test("wss:// to a server whose certificate is not trusted fails with TlsHandshakeError, verification not relaxed for an address", async () => {
  await using server = await startTlsServer();
  for (const url of [server.wss, `wss://127.0.0.1:${server.port}`]) {
    // The default store only: nothing vouches for a self-signed certificate.
    const error = await openTerminalConnection(url).then(
      () => assert.fail(`${url} was opened`),
      (error: unknown) => error,
    );
    assert.ok(error instanceof TlsHandshakeError, String(error));
    assert.equal(error.untrusted, true);
    assert.match(
      error.message,
      /^The server's TLS certificate is not trusted \(invalid peer certificate: UnknownIssuer\)$/,
    );
  }
});
