/**
 * `chat serve --trusted-proxy` (its X-Forwarded-For and X-Forwarded-Proto)
 * and `--new-names-per-minute` in a real `chat serve`. The "proxy" is this test on loopback: it sends the
 * WebSocket upgrade with an `X-Forwarded-For` itself, or relays a real
 * client's connection with that header put in, as nginx does.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { TOO_MANY_NEW_NAMES } from "../../src/server/sign_in.ts";
import { testIdentity } from "../_helpers/chat.ts";
import {
  type LanServer,
  serveOnLan,
  serveWebOnLan,
} from "../_helpers/lan_server.ts";

/** `chat serve` on every interface with `flags` (lan_server.ts). */
function serve(...flags: string[]): Promise<LanServer> {
  return serveOnLan("chat-trusted-proxy-", ...flags);
}

/** The answer to a request; the socket stays open on a 101. */
interface Upgrade extends Disposable {
  readonly status: number;
  /** The status line, headers and (for a refusal) the body. */
  readonly text: string;
}

/**
 * A WebSocket upgrade sent to `hostname:port` with `headers` added (a `Host`
 * among them instead of `hostname:port`), as a proxy on that machine would
 * send it; read up to the end of the headers (a 101) or of the answer (a
 * refusal, which closes).
 */
function upgrade(
  port: number,
  headers: Record<string, string>,
  hostname = "127.0.0.1",
): Promise<Upgrade> {
  return request(port, {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
    ...headers,
  }, hostname);
}

/**
 * `GET /` sent to `hostname:port` with `headers` (a `Host` among them
 * instead of `hostname:port`), read up to the end of the headers of a 101
 * or of the whole answer.
 */
async function request(
  port: number,
  headers: Record<string, string>,
  hostname = "127.0.0.1",
): Promise<Upgrade> {
  const conn = await Deno.connect({ hostname, port });
  const lines = Object.entries({ Host: `${hostname}:${port}`, ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`).join("");
  await conn.write(
    new TextEncoder().encode(`GET / HTTP/1.1\r\n${lines}\r\n`),
  );
  let text = "";
  const buffer = new Uint8Array(4096);
  const decoder = new TextDecoder();
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
    if (text.startsWith("HTTP/1.1 101") && text.includes("\r\n\r\n")) break;
  }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  return {
    status,
    text,
    [Symbol.dispose]: () => {
      try {
        conn.close();
      } catch {
        // Closed by the server already.
      }
    },
  };
}

/**
 * A reverse proxy on loopback in front of the server on `serverPort`, as
 * nginx with `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`
 * is for a client at `client`: each connection's request gets the header,
 * then bytes pass both ways unchanged.
 */
function forwardingProxy(
  serverPort: number,
  client: string,
): AsyncDisposable & { url: string } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const relays: Promise<unknown>[] = [];
  const relay = async (conn: Deno.Conn) => {
    open.add(conn);
    // The request's head, up to its blank line (a client's is small).
    let head = new Uint8Array(0);
    let end = -1;
    while (end === -1) {
      const chunk = new Uint8Array(16 * 1024);
      const n = await conn.read(chunk);
      if (n === null) return;
      head = new Uint8Array([...head, ...chunk.subarray(0, n)]);
      end = new TextDecoder().decode(head).indexOf("\r\n\r\n");
    }
    const text = new TextDecoder().decode(head);
    const line = text.indexOf("\r\n");
    const upstream = await Deno.connect({
      hostname: "127.0.0.1",
      port: serverPort,
    });
    open.add(upstream);
    await upstream.write(
      new TextEncoder().encode(
        `${text.slice(0, line)}\r\nX-Forwarded-For: ${client}${
          text.slice(line)
        }`,
      ),
    );
    await Promise.all([
      conn.readable.pipeTo(upstream.writable).catch(() => {}),
      upstream.readable.pipeTo(conn.writable).catch(() => {}),
    ]);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      relays.push(relay(conn).catch(() => {}));
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `ws://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Closed by its pipe.
        }
      }
      await Promise.all(relays);
    },
  };
}

/** `name` signed in at `url`, or the server's refusal's text. */
async function signIn(
  url: string,
  spki: Uint8Array,
  name: string,
): Promise<ChatClient | string> {
  const client = await ChatClient.connect(url, { pinnedSpki: spki });
  const reply = await client.register(name, await testIdentity());
  if (reply.t === "welcome") return client;
  await client.quit();
  return reply.t === "error" ? reply.text : reply.t;
}

Deno.test("chat serve --trusted-proxy 127.0.0.1 --max-per-address 1: a connection from the proxy counts as the address its X-Forwarded-For names", async () => {
  await using server = await serve(
    "--trusted-proxy",
    "127.0.0.1",
    "--max-per-address",
    "1",
  );
  await server.process.waitFor(
    /Behind a reverse proxy: a connection from 127\.0\.0\.1 counts as the client's its X-Forwarded-For names/,
  );
  using first = await upgrade(server.port, {
    "X-Forwarded-For": "10.9.0.1",
  });
  assert.equal(first.status, 101, first.text);
  using again = await upgrade(server.port, {
    "X-Forwarded-For": "10.9.0.1",
  });
  assert.equal(again.status, 503, again.text);
  assert.match(again.text, /Refused: too many connections from your address/);
  await server.process.waitFor(
    /refused a connection from 10\.9\.0\.1 via 127\.0\.0\.1:\d+: too many connections from your address/,
  );
  // What the client wrote itself, left of the proxy's entry, is not read.
  using spoofed = await upgrade(server.port, {
    "X-Forwarded-For": "10.9.0.77, 10.9.0.1",
  });
  assert.equal(spoofed.status, 503, spoofed.text);
  // Another client behind the same proxy has its own limits.
  using other = await upgrade(server.port, {
    "X-Forwarded-For": "10.9.0.2",
  });
  assert.equal(other.status, 101, other.text);
  // And the proxy's own machine, naming nobody, its own.
  using local = await upgrade(server.port, {});
  assert.equal(local.status, 101, local.text);
});

Deno.test("chat serve --trusted-proxy: X-Forwarded-For from an address not named is ignored", async () => {
  await using server = await serve(
    "--trusted-proxy",
    "192.0.2.1",
    "--max-per-address",
    "1",
  );
  // Even one no proxy would send: never read, so not refused.
  using first = await upgrade(server.port, { "X-Forwarded-For": "unknown" });
  assert.equal(first.status, 101, first.text);
  // Another address named does not give loopback a second connection.
  using second = await upgrade(server.port, {
    "X-Forwarded-For": "10.9.0.2",
  });
  assert.equal(second.status, 503, second.text);
  assert.match(second.text, /too many connections from your address/);
  await server.process.waitFor(
    /refused a connection from 127\.0\.0\.1:\d+: too many connections from your address/,
  );
});

Deno.test("chat serve --trusted-proxy: a proxy's X-Forwarded-For that names no IP address is refused with a 400, and logged", async () => {
  await using server = await serve("--trusted-proxy", "127.0.0.1,::1");
  for (
    const [header, quoted] of [
      ["unknown", "unknown"],
      ["10.9.0.1:4567", "10.9.0.1:4567"],
      ["10.9.0.1, [2001:db8::1]", "[2001:db8::1]"],
    ]
  ) {
    using refused = await upgrade(server.port, {
      "X-Forwarded-For": header!,
    });
    assert.equal(refused.status, 400, refused.text);
    assert.match(
      refused.text,
      new RegExp(
        `Refused: X-Forwarded-For names '${
          RegExp.escape(quoted!)
        }' where the client's address should be, which is not an IP address`,
      ),
    );
  }
  await server.process.waitFor(
    /refused a connection from 127\.0\.0\.1:\d+: X-Forwarded-For names 'unknown' where the client's address should be/,
  );
  // A good one still goes through.
  using good = await upgrade(server.port, { "X-Forwarded-For": "10.9.0.1" });
  assert.equal(good.status, 101, good.text);
});

/**
 * What a browser's upgrade from the page at https://chat.example.org sends
 * through a proxy that ends TLS and speaks plain HTTP to the server, as
 * nginx with `proxy_set_header X-Forwarded-Proto $scheme` does.
 */
const FROM_HTTPS_PAGE = {
  Host: "chat.example.org",
  Origin: "https://chat.example.org",
  "X-Forwarded-For": "10.9.0.1",
  "X-Forwarded-Proto": "https",
};

Deno.test("chat serve --trusted-proxy: a browser's upgrade through a proxy that ends TLS is let in by its X-Forwarded-Proto: https", async () => {
  await using server = await serve(
    "--trusted-proxy",
    "127.0.0.1",
    "--allowed-host",
    "chat.example.org",
  );
  using proxied = await upgrade(server.port, FROM_HTTPS_PAGE);
  assert.equal(proxied.status, 101, proxied.text);
  using lower = await upgrade(server.port, {
    ...FROM_HTTPS_PAGE,
    "X-Forwarded-Proto": "HTTPS",
  });
  assert.equal(lower.status, 101, lower.text);
  // Without it the hop's own scheme, plain: the https:// page is not ours.
  const { "X-Forwarded-Proto": _, ...withoutProto } = FROM_HTTPS_PAGE;
  using plain = await upgrade(server.port, withoutProto);
  assert.equal(plain.status, 403, plain.text);
  // Nor when the proxy says the client came over plain http.
  using http = await upgrade(server.port, {
    ...FROM_HTTPS_PAGE,
    "X-Forwarded-Proto": "http",
  });
  assert.equal(http.status, 403, http.text);
  assert.match(http.text, /Refused: only this chat server's own page/);
  // And the page at http:// through it, then, is.
  using httpPage = await upgrade(server.port, {
    ...FROM_HTTPS_PAGE,
    Origin: "http://chat.example.org",
    "X-Forwarded-Proto": "http",
  });
  assert.equal(httpPage.status, 101, httpPage.text);
});

Deno.test("chat serve --trusted-proxy: a proxy's X-Forwarded-Proto that is not one https or http is refused with a 400, and logged", async () => {
  await using server = await serve(
    "--trusted-proxy",
    "127.0.0.1",
    "--allowed-host",
    "chat.example.org",
  );
  using refused = await upgrade(server.port, {
    ...FROM_HTTPS_PAGE,
    "X-Forwarded-Proto": "https, http",
  });
  assert.equal(refused.status, 400, refused.text);
  assert.match(
    refused.text,
    /Refused: X-Forwarded-Proto names 'https, http' where https or http should be\n$/,
  );
  await server.process.waitFor(
    /refused a connection from 127\.0\.0\.1:\d+: X-Forwarded-Proto names 'https, http'/,
  );
});

Deno.test("chat serve --trusted-proxy: X-Forwarded-Proto from an address not named is ignored, so a client cannot pass for an https:// page", async () => {
  await using server = await serve(
    "--trusted-proxy",
    "192.0.2.1",
    "--allowed-host",
    "chat.example.org",
  );
  using spoofed = await upgrade(server.port, FROM_HTTPS_PAGE);
  assert.equal(spoofed.status, 403, spoofed.text);
  assert.match(spoofed.text, /Refused: only this chat server's own page/);
  // Not read at all: not even refused when it could not be read.
  using unread = await upgrade(server.port, { "X-Forwarded-Proto": "bogus" });
  assert.equal(unread.status, 101, unread.text);
});

Deno.test("chat serve --trusted-proxy: the page through a proxy that ends TLS is served, not redirected to https://, by its X-Forwarded-Proto", async () => {
  await using server = await serveWebOnLan(
    "chat-trusted-proxy-",
    "--trusted-proxy",
    "127.0.0.1",
    "--allowed-host",
    "chat.example.org",
  );
  const page = {
    Host: "chat.example.org",
    "X-Forwarded-For": "10.9.0.1",
    "X-Forwarded-Proto": "https",
  };
  using served = await request(server.port, page);
  assert.equal(served.status, 200, served.text);
  assert.match(served.text, /<!doctype html>/i);
  // What the client asked for over http:// is still sent to https://.
  using http = await request(server.port, {
    ...page,
    "X-Forwarded-Proto": "http",
  });
  assert.equal(http.status, 307, http.text);
  assert.match(http.text, /\r\nlocation: https:\/\/chat\.example\.org\/\r\n/);
  // An unreadable one gets a 400 saying so, not a redirect to the very
  // address the client is at (again and again).
  using bad = await request(server.port, {
    ...page,
    "X-Forwarded-Proto": "https,https",
  });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /Refused: X-Forwarded-Proto names 'https,https'/);
});

Deno.test("chat serve --trusted-proxy: the page asked for over plain HTTP by an address not named is redirected, whatever its X-Forwarded-Proto says", async () => {
  await using server = await serveWebOnLan(
    "chat-trusted-proxy-",
    "--trusted-proxy",
    "192.0.2.1",
    "--allowed-host",
    "chat.example.org",
  );
  using spoofed = await request(server.port, {
    Host: "chat.example.org",
    "X-Forwarded-Proto": "https",
  });
  assert.equal(spoofed.status, 307, spoofed.text);
  assert.match(
    spoofed.text,
    /\r\nlocation: https:\/\/chat\.example\.org\/\r\n/,
  );
});

Deno.test("chat serve --trusted-proxy 127.0.0.1 --new-names-per-minute 1: clients through a proxy get the new-name rate of their own address (loopback is free of it)", async () => {
  await using server = await serve(
    "--trusted-proxy",
    "127.0.0.1",
    "--new-names-per-minute",
    "1",
  );
  await using proxyA = forwardingProxy(server.port, "10.9.0.1");
  await using proxyB = forwardingProxy(server.port, "10.9.0.2");
  const clients: ChatClient[] = [];
  try {
    // One a minute, bursts of three.
    for (const name of ["a1", "a2", "a3"]) {
      const signedIn = await signIn(proxyA.url, server.spki, name);
      assert.ok(signedIn instanceof ChatClient, `${name}: ${signedIn}`);
      clients.push(signedIn);
    }
    await server.process.waitFor(
      /a1 registered from 10\.9\.0\.1 via 127\.0\.0\.1:\d+ \(SHA256:/,
    );
    assert.equal(
      await signIn(proxyA.url, server.spki, "a4"),
      TOO_MANY_NEW_NAMES,
    );
    const b1 = await signIn(proxyB.url, server.spki, "b1");
    assert.ok(b1 instanceof ChatClient, `b1: ${b1}`);
    clients.push(b1);
  } finally {
    for (const client of clients) await client.quit();
  }
});

Deno.test("chat serve --new-names-per-minute 0: one LAN address registers past the default burst (30)", async () => {
  await using server = await serve(
    "--new-names-per-minute",
    "0",
    "--handshake-rate",
    "0",
    // Each of the 31 is a sign-in too, past the default sign-in burst (30).
    "--sign-ins-per-minute",
    "0",
  );
  if (server.lanUrl === null) {
    return console.warn("No LAN address on this machine: nothing to check");
  }
  for (let i = 1; i <= 31; i++) {
    const signedIn = await signIn(server.lanUrl, server.spki, `m${i}`);
    assert.ok(signedIn instanceof ChatClient, `m${i}: ${signedIn}`);
    await signedIn.quit();
  }
});
