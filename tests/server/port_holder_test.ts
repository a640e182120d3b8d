/**
 * What `chat serve` says of whoever holds the port it could not listen on:
 * asked of a real chat server, a real HTTP server and raw listeners.
 */

import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import { portHolder } from "../../src/server/port_holder.ts";

/** A listener that answers each connection with `answer` and keeps it open. */
function answering(answer: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      if (answer !== "") await conn.write(new TextEncoder().encode(answer));
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of conns) conn.close();
    },
  };
}

Deno.test("portHolder tells a chat server by its 426 and its words", async () => {
  await using server = await startTestServer();
  assert.equal(await portHolder("0.0.0.0", server.port, 5000), "chat");
  await using noWeb = await startTestServer({ web: false });
  assert.equal(await portHolder("127.0.0.1", noWeb.port, 5000), "chat");
});

Deno.test("portHolder tells an older chat server's chunked 426, even left open", async () => {
  await using old = answering(
    "HTTP/1.1 426 Upgrade Required\r\nupgrade: websocket\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n" +
      "3a\r\nThis is a chat server. Connect with: chat connect <host>\n\r\n",
  );
  assert.equal(await portHolder("127.0.0.1", old.port, 5000), "chat");
});

Deno.test("portHolder tells another HTTP server, or another protocol, at once", async () => {
  const controller = new AbortController();
  const web = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen() {},
    },
    () => new Response("hello"),
  );
  try {
    assert.equal(await portHolder("127.0.0.1", web.addr.port, 5000), "other");
  } finally {
    controller.abort();
    await web.finished;
  }
  // Its own 426, in other words.
  await using upgrade = answering(
    "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 6\r\n\r\nhello\n",
  );
  assert.equal(await portHolder("127.0.0.1", upgrade.port, 5000), "other");
  // Not HTTP, and the connection kept open: not waited for.
  await using ssh = answering("SSH-2.0-OpenSSH_9.6\r\n");
  const started = performance.now();
  assert.equal(await portHolder("127.0.0.1", ssh.port, 5000), "other");
  assert.ok(performance.now() - started < 4000);
  // An HTTP/1.0 answer is no chat server's.
  await using old = answering(
    "HTTP/1.0 426 Upgrade Required\r\n\r\nThis is a chat server.\n",
  );
  assert.equal(await portHolder("127.0.0.1", old.port, 5000), "other");
});

Deno.test("portHolder does not know a holder that says nothing in time, or none", async () => {
  await using silent = answering("");
  assert.equal(await portHolder("127.0.0.1", silent.port, 200), "unknown");
  const gone = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = gone.addr.port;
  gone.close();
  assert.equal(await portHolder("127.0.0.1", port, 5000), "unknown");
});
