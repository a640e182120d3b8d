/**
 * What the terminal client says when nothing serving chat answers at an
 * address: the refusal is told by the error's class (Deno's
 * ConnectionRefused, an HTTP status other than 101), not by its words.
 */

import assert from "node:assert/strict";
import { explainConnectError } from "../../src/client/server_connect.ts";
import { openTerminalConnection } from "../../src/transport/tcp_websocket.ts";
import { WebSocketUpgradeError } from "../../src/transport/websocket_upgrade.ts";

async function failureOf(url: string): Promise<unknown> {
  return await openTerminalConnection(url).then(
    (connection) => {
      connection.close();
      assert.fail(`${url} let the client in`);
    },
    (error: unknown) => error,
  );
}

Deno.test("explainConnectError says a port nobody listens on refused the connection", async () => {
  // A port free a moment ago: nothing listens there once it is closed.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `ws://127.0.0.1:${listener.addr.port}`;
  listener.close();
  const error = await failureOf(url);
  assert.ok(error instanceof Deno.errors.ConnectionRefused);
  assert.equal(
    explainConnectError(error, url),
    `Cannot connect to ${url}: connection refused. Is 'chat serve' running there?`,
  );
});

Deno.test("explainConnectError says an HTTP server that refuses the upgrade is not chat", async () => {
  const controller = new AbortController();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen: () => {},
    },
    () => new Response("not here", { status: 404 }),
  );
  const url = `ws://127.0.0.1:${server.addr.port}`;
  try {
    const error = await failureOf(url);
    assert.ok(error instanceof WebSocketUpgradeError);
    assert.equal(error.status, 404);
    assert.equal(
      explainConnectError(error, url),
      `Cannot connect to ${url}: connection refused. Is 'chat serve' running there?`,
    );
  } finally {
    controller.abort();
    await server.finished;
  }
});
