/**
 * TcpWebSocketConnection over wss:// against TLS servers written here: what
 * goes in the ClientHello and the upgrade request, certificates refused as
 * Deno's WebSocket refuses them, and nothing tried without TLS when TLS
 * fails.
 */

import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import {
  certificateNames,
  makeCertificate,
  type TlsCredentials,
} from "../../src/server/tls_certificate.ts";
import {
  TcpWebSocketConnection,
  TlsHandshakeError,
} from "../../src/transport/tcp_websocket.ts";
import { WebSocketUpgradeError } from "../../src/transport/websocket_upgrade.ts";
import { testCredentials } from "../_helpers/tls.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DAY_MS = 24 * 3600 * 1000;

/** Why opening `url` failed; fails the test if it opened. */
function failure(
  url: string,
  options: { caCerts?: string[]; upgradeTimeoutMs?: number } = {},
): Promise<unknown> {
  return TcpWebSocketConnection.open(url, options).then(
    () => assert.fail(`${url} was opened`),
    (error: unknown) => error,
  );
}

Deno.test("TcpWebSocketConnection over wss:// names the host in the SNI and in Host, asks for the URL's path, and reads a refusal", async () => {
  const { cert, key } = await testCredentials();
  const seen: { servername: string | null; head: string }[] = [];
  // node:tls: it tells the SNI the client sent (Deno.listenTls does not).
  const server = createTlsServer({ cert, key }, (socket) => {
    let text = "";
    socket.on("error", () => {});
    socket.on("data", (chunk: Uint8Array) => {
      text += decoder.decode(chunk);
      if (!text.includes("\r\n\r\n")) return;
      // No SNI: false in Node, null in Deno's node:tls.
      seen.push({ servername: socket.servername || null, head: text });
      socket.end(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9\r\n\r\nToo full\n",
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    for (const host of ["localhost", "127.0.0.1"]) {
      const error = await failure(`wss://${host}:${port}/chat?x=1`, {
        caCerts: [cert],
      });
      assert.ok(error instanceof WebSocketUpgradeError, String(error));
      assert.equal(error.status, 503);
      assert.match(
        error.message,
        /'HTTP\/1\.1 503 Service Unavailable' \(Too full\)/,
      );
    }
    assert.equal(seen.length, 2);
    // TLS names no IP address in the SNI (RFC 6066 §3); the certificate is
    // checked against it all the same (its names include 127.0.0.1).
    assert.deepEqual(seen.map((s) => s.servername), ["localhost", null]);
    for (const [index, host] of ["localhost", "127.0.0.1"].entries()) {
      const head = seen[index]!.head;
      assert.match(head, /^GET \/chat\?x=1 HTTP\/1\.1\r\n/);
      assert.ok(head.includes(`\r\nHost: ${host}:${port}\r\n`), head);
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

/**
 * A TLS listener with `tls` that takes one connection; resolves with how
 * opening `wss://HOST:PORT/` with `caCerts` failed.
 */
async function refusedBy(
  tls: TlsCredentials,
  host: string,
  caCerts?: string[],
): Promise<unknown> {
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.cert,
    key: tls.key,
  });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await conn.handshake();
      assert.fail("the handshake completed");
    } catch (error) {
      // The client's alert: it refused the certificate.
      if (error instanceof assert.AssertionError) throw error;
    } finally {
      conn.close();
    }
  })();
  const error = await failure(
    `wss://${host}:${listener.addr.port}/`,
    caCerts === undefined ? {} : { caCerts },
  );
  await served;
  return error;
}

Deno.test("TcpWebSocketConnection over wss:// refuses a certificate nobody trusts, one for another name, and one expired", async () => {
  const now = Date.now();
  const good = await testCredentials();
  const elsewhere = await makeCertificate(["chat.example"], new Date(now));
  const expired = await makeCertificate(
    certificateNames([]),
    new Date(now - 400 * DAY_MS),
  );
  const cases: [string, unknown, RegExp][] = [
    // The default store only, as `chat connect`.
    ["self-signed", await refusedBy(good, "localhost"), /UnknownIssuer/],
    [
      "another name",
      await refusedBy(elsewhere, "localhost", [elsewhere.cert]),
      /certificate not valid for name "localhost"/,
    ],
    [
      "expired",
      await refusedBy(expired, "127.0.0.1", [expired.cert]),
      /certificate expired/,
    ],
  ];
  for (const [what, error, reason] of cases) {
    assert.ok(error instanceof TlsHandshakeError, `${what}: ${error}`);
    assert.equal(error.untrusted, true, what);
    assert.match(
      error.message,
      /^The server's TLS certificate is not trusted \(invalid peer certificate: /,
      what,
    );
    assert.match(error.message, reason, what);
  }
});

/**
 * A plain TCP listener that takes one connection and answers it with
 * `answer`, or never; resolves with the error opening wss:// to it met and
 * every byte the client sent.
 */
async function plainServer(
  answer: string | null,
  upgradeTimeoutMs?: number,
): Promise<{ error: unknown; received: Uint8Array; connections: number }> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const served = (async () => {
    const conn = await listener.accept();
    accepted.push(conn);
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (let read; (read = await conn.read(buffer)) !== null;) {
        chunks.push(buffer.slice(0, read));
        if (answer !== null && chunks.length === 1) {
          await conn.write(encoder.encode(answer));
        }
      }
      conn.close();
    } catch {
      // Reset by the client, or closed below: what it sent is all here.
    }
    return new Uint8Array(chunks.flatMap((chunk) => [...chunk]));
  })();
  const error = await failure(
    `wss://127.0.0.1:${listener.addr.port}/`,
    upgradeTimeoutMs === undefined ? {} : { upgradeTimeoutMs },
  );
  if (answer === null) {
    // The client gave up, but its socket stays with Deno's TLS handshake
    // until the server answers or goes (see TcpWebSocketConnection#open).
    for (const conn of accepted) conn.close();
  }
  const received = await served;
  return { error, received, connections: accepted.length };
}

Deno.test("TcpWebSocketConnection over wss:// to a server without TLS fails and sends nothing in the clear", async () => {
  const { error, received, connections } = await plainServer(
    "HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n",
  );
  assert.ok(error instanceof TlsHandshakeError, String(error));
  assert.equal(error.untrusted, false);
  assert.match(
    error.message,
    /^The TLS handshake with the server failed \(.+\): does it speak TLS \(wss:\/\/\) on that port\?$/,
  );
  assert.equal(connections, 1);
  // A TLS handshake record (a ClientHello), and never the upgrade request.
  assert.equal(received[0], 0x16);
  assert.ok(!decoder.decode(received).includes("GET "));
});

Deno.test("TcpWebSocketConnection over wss:// gives up on a TLS handshake that does not finish in time", async () => {
  const { error, received } = await plainServer(null, 50);
  assert.ok(error instanceof TlsHandshakeError, String(error));
  assert.equal(error.untrusted, false);
  assert.equal(
    error.message,
    "The server did not finish the TLS handshake within 0.05 s: does it speak TLS (wss://) on that port?",
  );
  assert.equal(received[0], 0x16);
});

Deno.test("TcpWebSocketConnection over wss:// checks an address against the certificate's IP addresses and a name against its DNS names, never one for the other", async () => {
  const now = new Date();
  const nameOnly = await makeCertificate(["localhost"], now);
  const addressOnly = await makeCertificate(["127.0.0.1"], now);
  const cases: [string, unknown, RegExp][] = [
    [
      "an address, the certificate naming localhost",
      await refusedBy(nameOnly, "127.0.0.1", [nameOnly.cert]),
      /certificate not valid for name "127\.0\.0\.1"/,
    ],
    [
      "a name, the certificate naming 127.0.0.1",
      await refusedBy(addressOnly, "localhost", [addressOnly.cert]),
      /certificate not valid for name "localhost"/,
    ],
    [
      "::ffff:127.0.0.1, the certificate naming 127.0.0.1",
      await refusedBy(addressOnly, "[::ffff:127.0.0.1]", [addressOnly.cert]),
      /certificate not valid for name "::ffff:127\.0\.0\.1"/,
    ],
  ];
  for (const [what, error, reason] of cases) {
    assert.ok(error instanceof TlsHandshakeError, `${what}: ${error}`);
    assert.equal(error.untrusted, true, what);
    assert.match(error.message, reason, what);
  }
});
