/**
 * Cross-site WebSocket hijacking: a page from another site (or another port
 * of the same host), opened in the browser of someone who can reach the chat
 * server, asks that browser to open a WebSocket to it. Browsers send the
 * page's Origin with every WebSocket; the server lets in only its own page
 * (and clients that are not browsers, which send none).
 */

import assert from "node:assert/strict";
// @ts-types="@types/ws"
import { WebSocket } from "ws";
import { allowedOrigin } from "../../src/server/websocket_origin.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { startTlsServer } from "../_helpers/tls.ts";

Deno.test("allowedOrigin lets in no Origin (not a browser) and the page's own, scheme, host and port alike", () => {
  assert.equal(allowedOrigin(undefined, "127.0.0.1:8767", false), true);
  assert.equal(
    allowedOrigin("http://127.0.0.1:8767", "127.0.0.1:8767", false),
    true,
  );
  assert.equal(
    allowedOrigin("https://192.168.1.104:8767", "192.168.1.104:8767", true),
    true,
  );
  // Case and default ports as the browser writes them.
  assert.equal(allowedOrigin("https://chat.lan", "Chat.LAN:443", true), true);
  assert.equal(allowedOrigin("http://[::1]:8767", "[::1]:8767", false), true);
});

Deno.test("allowedOrigin refuses another site, another port, another scheme, an opaque origin and a missing or broken Host", () => {
  assert.equal(
    allowedOrigin("http://evil.example", "127.0.0.1:8767", false),
    false,
  );
  assert.equal(
    allowedOrigin("http://127.0.0.1:8000", "127.0.0.1:8767", false),
    false,
  );
  assert.equal(
    allowedOrigin("http://192.168.1.104:8767", "192.168.1.104:8767", true),
    false,
  );
  assert.equal(
    allowedOrigin("https://192.168.1.104:8767", "192.168.1.104:8767", false),
    false,
  );
  assert.equal(allowedOrigin("null", "127.0.0.1:8767", false), false);
  assert.equal(allowedOrigin("http://127.0.0.1:8767", undefined, false), false);
  assert.equal(
    allowedOrigin("http://127.0.0.1:8767", "127.0.0.1:8767/x@y", false),
    false,
  );
});

/** How a WebSocket upgrade with `options` to `url` is answered: 101 or the refusal's status. */
function upgradeStatus(
  url: string,
  options: { origin?: string; ca?: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on("open", () => {
      ws.terminate();
      resolve(101);
    });
    ws.on("unexpected-response", (_request, response) => {
      ws.terminate();
      resolve(response.statusCode ?? 0);
    });
    ws.on("error", reject);
  });
}

Deno.test("startServer refuses a WebSocket from another site's page (403), and takes one from its own page or from a client that is not a browser", async () => {
  await using server = await startTestServer();
  const own = `http://127.0.0.1:${server.port}`;
  assert.equal(
    await upgradeStatus(server.url, { origin: "http://evil.example" }),
    403,
  );
  // Another port of the same host is another site.
  assert.equal(
    await upgradeStatus(server.url, { origin: "http://127.0.0.1:1" }),
    403,
  );
  assert.equal(await upgradeStatus(server.url, { origin: own }), 101);
  assert.equal(await upgradeStatus(server.url, {}), 101);
});

Deno.test("startServer over TLS takes its own https:// page's WebSocket and refuses the same address's http:// one", async () => {
  await using server = await startTlsServer();
  const host = `localhost:${server.port}`;
  assert.equal(
    await upgradeStatus(server.wss, {
      origin: `https://${host}`,
      ca: server.cert,
    }),
    101,
  );
  assert.equal(
    await upgradeStatus(server.wss, {
      origin: `http://${host}`,
      ca: server.cert,
    }),
    403,
  );
});
