/**
 * What a client refused at the door sees (docs/PROTOCOL.md 1.1): a 503 with
 * the reason and Retry-After, the same bytes for every refusal, and the
 * terminal client's line naming the reason.
 */

import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import { RawTcp } from "../_helpers/raw_tcp.ts";
import {
  refusal,
  RETRY_AFTER_SECONDS,
  unavailable,
} from "../../src/server/ws_edge.ts";
import { openTerminalConnection } from "../../src/transport/tcp_websocket.ts";
import { WebSocketUpgradeError } from "../../src/transport/websocket_upgrade.ts";
import { explainConnectError } from "../../src/client/server_connect.ts";
import { TOO_MANY_NEW } from "../../src/server/admission.ts";

Deno.test("startServer refuses an address past its handshake rate with 503, its reason and Retry-After", async () => {
  await using server = await startTestServer({
    connectionLimits: { handshakesPerSecond: 0.01, handshakeBurst: 1 },
  });
  // The one token of the burst.
  const { tcp: first, head: welcome } = await RawTcp.upgrade(server.port);
  first.close();
  assert.match(welcome, /^HTTP\/1\.1 101 /);
  // Refused, and told so (the answers' bucket has one token too).
  const [head, body] = (await wholeAnswer(server.port)).split("\r\n\r\n");
  assert.match(head!, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(
    head!,
    new RegExp(`\r\nRetry-After: ${RETRY_AFTER_SECONDS}\r\n`),
  );
  assert.match(head!, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
  assert.equal(body, `Refused: ${TOO_MANY_NEW}\n`);
});

Deno.test("explainConnectError gives a refused terminal client the server's reason and its wait", async () => {
  await using server = await startTestServer({
    connectionLimits: { maxConnectionsPerAddress: 1 },
  });
  const { tcp, head } = await RawTcp.upgrade(server.port);
  assert.match(head, /^HTTP\/1\.1 101 /);
  try {
    const error = await openTerminalConnection(server.url).then(
      () => assert.fail("let in past --max-per-address"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof WebSocketUpgradeError);
    assert.equal(error.status, 503);
    assert.equal(error.reason, "too many connections from your address");
    assert.equal(error.retryAfter, RETRY_AFTER_SECONDS);
    assert.equal(
      explainConnectError(error, server.url),
      `The server at ${server.url} refused the connection: too many connections from your address: close some of your other chat connections, or ask whoever runs the server to raise --max-per-address (the server asks to wait ${RETRY_AFTER_SECONDS} s)`,
    );
  } finally {
    tcp.close();
  }
});

Deno.test("unavailable answers every refusal for a reason with the same bytes", () => {
  const one = unavailable("the server is full");
  assert.equal(unavailable("the server is full"), one);
  assert.match(
    new TextDecoder().decode(one),
    /^HTTP\/1\.1 503 Service Unavailable\r\nRetry-After: 5\r\n[^]*\r\n\r\nRefused: the server is full\n$/,
  );
  // A server has few reasons: more are answered, not kept.
  for (let i = 0; i < 100; i++) unavailable(`reason ${i}`);
  assert.notEqual(unavailable("reason 99"), unavailable("reason 99"));
});

Deno.test("refusal builds every refused upgrade's answer: status line, its one header, a text body, closed", () => {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  assert.equal(
    text(unavailable("the server is full")),
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 28\r\n" +
      "Connection: close\r\n\r\nRefused: the server is full\n",
  );
  assert.equal(
    text(refusal(426, "Connect with chat\n")),
    "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 18\r\n" +
      "Connection: close\r\n\r\nConnect with chat\n",
  );
  // Content-Length counts bytes, not characters.
  assert.equal(
    text(refusal(403, "é\n")),
    "HTTP/1.1 403 Forbidden\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n" +
      "Connection: close\r\n\r\né\n",
  );
});

/** An upgrade asked on a new connection, and all the server answers. */
async function wholeAnswer(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    ));
    const chunks: Uint8Array[] = [];
    for await (const chunk of conn.readable) chunks.push(chunk);
    return new TextDecoder().decode(
      chunks.reduce((all, chunk) => new Uint8Array([...all, ...chunk])),
    );
  } catch (error) {
    conn.close();
    throw error;
  }
}

Deno.test("docs/PROTOCOL.md 1.1's 503 example is what a real server answers, byte for byte", async () => {
  const protocol = await Deno.readTextFile(
    new URL("../../docs/PROTOCOL.md", import.meta.url),
  );
  const block = /\n {2}```\n( {2}HTTP\/1\.1 503 [^]*?)\n {2}```\n/.exec(
    protocol,
  );
  assert.ok(block, "PROTOCOL.md 1.1 shows no 503 answer");
  const lines = block[1]!.split("\n").map((line) => line.slice(2));
  const blank = lines.indexOf("");
  const documented = lines.slice(0, blank).join("\r\n") + "\r\n\r\n" +
    lines.slice(blank + 1).join("\n") + "\n";
  await using server = await startTestServer({
    connectionLimits: { maxConnectionsPerAddress: 1 },
  });
  const { tcp, head } = await RawTcp.upgrade(server.port);
  assert.match(head, /^HTTP\/1\.1 101 /);
  try {
    assert.equal(await wholeAnswer(server.port), documented);
  } finally {
    tcp.close();
  }
});
