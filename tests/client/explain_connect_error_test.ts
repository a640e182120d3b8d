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

/**
 * What `explainConnectError` says of a real HTTP server at the address that
 * answers the upgrade with `response`.
 */
async function explainedAnswer(
  response: () => Response,
): Promise<{ error: unknown; text: string; url: string; port: number }> {
  const controller = new AbortController();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen: () => {},
    },
    response,
  );
  const url = `ws://127.0.0.1:${server.addr.port}`;
  try {
    const error = await failureOf(url);
    return {
      error,
      text: explainConnectError(error, url),
      url,
      port: server.addr.port,
    };
  } finally {
    controller.abort();
    await server.finished;
  }
}

Deno.test("explainConnectError says an HTTP server that answers 404 is not chat, with its status", async () => {
  const { error, text, url } = await explainedAnswer(() =>
    new Response("not here", { status: 404 })
  );
  assert.ok(error instanceof WebSocketUpgradeError);
  assert.equal(error.status, 404);
  assert.equal(
    text,
    `Cannot connect to ${url}: that address answers HTTP but is not a chat server (status 404: 'not here')`,
  );
});

Deno.test("explainConnectError says a 400 to ws:// may be a port that expects TLS", async () => {
  const { text, url, port } = await explainedAnswer(() =>
    new Response("The plain HTTP request was sent to HTTPS port", {
      status: 400,
    })
  );
  assert.equal(
    text,
    `Cannot connect to ${url}: that address answers HTTP but is not a chat server (status 400: 'The plain HTTP request was sent to HTTPS port'). If that port expects TLS, connect to wss://127.0.0.1:${port} instead`,
  );
});

Deno.test("explainConnectError gives a chat server's own 400 reason", async () => {
  const { text, url } = await explainedAnswer(() =>
    new Response("Refused: X-Forwarded-Proto is not http or https\n", {
      status: 400,
    })
  );
  assert.equal(
    text,
    `The server at ${url} refused the connection (status 400): X-Forwarded-Proto is not http or https`,
  );
});

Deno.test("explainConnectError says a 403 about the host name came from something in the way", async () => {
  const { text, url } = await explainedAnswer(() =>
    new Response("Blocked request: \x1b[31mno such name\n", { status: 403 })
  );
  // The server's words are quoted without their escape sequence.
  assert.ok(!text.includes("\x1b"), text);
  assert.match(
    text,
    new RegExp(
      `^The server at ${url} refused the host name '127\\.0\\.0\\.1:\\d+' or your address \\(status 403: 'Blocked request: .*no such name'\\): a chat server refuses neither to chat connect, so a proxy or another program answered; connect to the address 'chat serve' printed, or ask whoever runs it$`,
    ),
  );
});

Deno.test("explainConnectError says a 403 about the origin means a proxy added one", async () => {
  const { text, url } = await explainedAnswer(() =>
    new Response(
      "Refused: only this chat server's own page may connect from a browser\n",
      { status: 403 },
    )
  );
  assert.equal(
    text,
    `The server at ${url} refused the connection as a page of another site (status 403): only this chat server's own page may connect from a browser. This client sends no Origin: a proxy between you and the server added one; connect to the server's own address, or ask whoever runs the proxy`,
  );
});

Deno.test("explainConnectError says a 429 is a busy server to try again, when it asks", async () => {
  const { text, url } = await explainedAnswer(() =>
    new Response("slow down", {
      status: 429,
      headers: { "retry-after": "7" },
    })
  );
  assert.equal(
    text,
    `The server at ${url} is busy (status 429: 'slow down'): try again in 7 s`,
  );
});

Deno.test("explainConnectError gives any other status by its number", async () => {
  const { text, url } = await explainedAnswer(() =>
    new Response(null, { status: 500 })
  );
  assert.equal(
    text,
    `Cannot connect to ${url}: the server answered the WebSocket upgrade with status 500, not 101: is it a chat server, and is that its port?`,
  );
});

Deno.test("explainConnectError quotes a streamed (chunked) answer's words, not its chunk size", async () => {
  const { text, url } = await explainedAnswer(() =>
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("not here\n"));
          controller.close();
        },
      }),
      { status: 404 },
    )
  );
  assert.equal(
    text,
    `Cannot connect to ${url}: that address answers HTTP but is not a chat server (status 404: 'not here')`,
  );
});
