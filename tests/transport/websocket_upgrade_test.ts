import assert from "node:assert/strict";
import {
  acceptFor,
  checkUpgradeResponse,
  headEnd,
  parseResponseHead,
  upgradeRequest,
  WebSocketUpgradeError,
} from "../../src/transport/websocket_upgrade.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

Deno.test("upgradeRequest asks for / when the URL has no path, with its host and port", () => {
  const request = upgradeRequest(new URL("ws://[::1]:8767"), KEY);
  assert.match(request, /^GET \/ HTTP\/1\.1\r\nHost: \[::1\]:8767\r\n/);
  assert.match(request, /\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n/);
  assert.ok(request.endsWith("\r\n\r\n"));
});

Deno.test("headEnd finds the blank line, and only a whole one", () => {
  const bytes = new TextEncoder().encode(
    "HTTP/1.1 101 OK\r\nA: b\r\n\r\nframes",
  );
  assert.equal(headEnd(bytes), 21);
  assert.equal(headEnd(bytes.subarray(0, 24)), -1);
});

Deno.test("checkUpgradeResponse takes header names in any case and Connection with other tokens", async () => {
  const head = parseResponseHead(
    "HTTP/1.1 101 Switching Protocols\r\nUPGRADE: WebSocket\r\n" +
      `connection: keep-alive, Upgrade\r\nsec-websocket-accept: ${await acceptFor(
        KEY,
      )}`,
  );
  await checkUpgradeResponse(head, KEY);
});

Deno.test("checkUpgradeResponse refuses a 200, keeping the status for the caller", async () => {
  const head = parseResponseHead("HTTP/1.1 200 OK\r\ncontent-type: text/html");
  await assert.rejects(
    () => checkUpgradeResponse(head, KEY, "<html>\n"),
    (error) =>
      error instanceof WebSocketUpgradeError && error.status === 200 &&
      error.message ===
        "The server refused the WebSocket: 'HTTP/1.1 200 OK' (<html>)",
  );
});

Deno.test("parseResponseHead refuses a header line without a name", () => {
  assert.throws(
    () => parseResponseHead("HTTP/1.1 101 OK\r\n: no name"),
    WebSocketUpgradeError,
  );
});
