/**
 * The edge's TLS on the plain port (issue 18): told apart by the first byte,
 * the page over https:// and a WebSocket over wss:// with the peer's own
 * address, plain HTTP and ws:// unchanged, a plain request for the page from
 * another machine redirected, and a TLS handshake that never completes cut
 * off like slow headers.
 */

import assert from "node:assert/strict";
// @ts-types="@types/ws"
import { WebSocket } from "ws";
import {
  type EdgeConnection,
  type EdgeOptions,
  startEdge,
} from "../../src/server/ws_edge.ts";
import {
  certificateNames,
  makeCertificate,
  type TlsCredentials,
} from "../../src/server/tls_certificate.ts";
import { WebSocketConnection } from "../../src/transport/connection.ts";
import { TcpWebSocketConnection } from "../../src/transport/tcp_websocket.ts";
import { until } from "../_helpers/bystanders.ts";
import { RawTcp } from "../_helpers/raw_tcp.ts";

const encoder = new TextEncoder();

let credentials: TlsCredentials | null = null;
async function testCredentials(): Promise<TlsCredentials> {
  credentials ??= await makeCertificate(certificateNames([]), new Date());
  return credentials;
}

/** An echoing edge with TLS; records what `admit` was asked. */
async function tlsEdge(
  headersTimeoutMs = 5000,
  overrides: Partial<EdgeOptions> = {},
) {
  const tls = await testCredentials();
  const admitted: string[] = [];
  const edge = await startEdge({
    hostname: "127.0.0.1",
    port: 0,
    tls,
    maxPayloadBytes: 1024 * 1024,
    maxHandshakePayloadBytes: 1024 * 1024,
    maxUnfinished: 0,
    maxUnfinishedPerGroup: 0,
    maxMessageFragments: 1024,
    maxHandshakeFrameReads: 4096,
    maxFrameReads: 4096,
    smallReadsPerSecond: 64,
    smallReadBurst: 256,
    closeTimeoutMs: 1000,
    headersTimeoutMs,
    idleTimeoutSeconds: 0,
    maxSockets: 100,
    maxSocketsPerGroup: 100,
    accept: () => ({ kind: "in" }),
    admit: (group, address) => {
      admitted.push(`${group} ${address}`);
      return null;
    },
    onConnection: (conn: EdgeConnection) => {
      void (async () => {
        for (
          let m = await conn.receive();
          m !== null;
          m = await conn.receive()
        ) {
          if (m === "bye") return conn.close(4000, "bye");
          conn.send(typeof m === "string" ? `${conn.remoteAddress} ${m}` : m);
        }
      })();
    },
    ...overrides,
  });
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  return Object.assign(edge, {
    tls,
    admitted,
    client,
    [Symbol.asyncDispose]: async () => {
      client.close();
      await edge.close();
    },
  });
}

Deno.test("startEdge with tls serves the page over https:// on the plain port, and over http:// to this machine", async () => {
  await using edge = await tlsEdge();
  const secure = await fetch(`https://127.0.0.1:${edge.port}/`, {
    client: edge.client,
  });
  assert.equal(secure.status, 200);
  assert.match(
    secure.headers.get("content-security-policy") ?? "",
    /script-src 'self'/,
  );
  assert.match(await secure.text(), /<html/i);
  // The name in the certificate works too.
  const named = await fetch(`https://localhost:${edge.port}/app.js`, {
    client: edge.client,
  });
  assert.equal(named.status, 200);
  await named.body?.cancel();
  const plain = await fetch(`http://127.0.0.1:${edge.port}/`);
  assert.equal(plain.status, 200);
  await plain.body?.cancel();
});

Deno.test("startEdge with tls redirects a plain request for the page from another machine to https://, and only that", async () => {
  await using edge = await tlsEdge();
  const ask = async (request: string) => {
    const tcp = await RawTcp.connect(edge.port);
    try {
      await tcp.write(encoder.encode(request));
      return await tcp.readHead();
    } finally {
      tcp.close();
    }
  };
  const lan = await ask(
    "GET /index.html?x=1 HTTP/1.1\r\nHost: 192.168.1.20:8767\r\n\r\n",
  );
  assert.match(lan, /^HTTP\/1\.1 307 /);
  assert.match(
    lan,
    /\r\nlocation: https:\/\/192\.168\.1\.20:8767\/index\.html\r\n/i,
  );
  // This machine's own names are a secure context already.
  for (const host of ["localhost:8767", "127.0.0.1", "[::1]:8767"]) {
    assert.match(
      await ask(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
      /^HTTP\/1\.1 200 /,
      host,
    );
  }
  // A Host that is not a host name is not echoed into a header: it is
  // refused before any redirect (allowed_host.ts).
  const odd = await ask("GET / HTTP/1.1\r\nHost: evil.example/x@y\r\n\r\n");
  assert.match(odd, /^HTTP\/1\.1 403 /);
  assert.doesNotMatch(odd, /location:/i);
  // Not the page: answered as before.
  assert.match(
    await ask("GET /nothing HTTP/1.1\r\nHost: 192.168.1.20\r\n\r\n"),
    /^HTTP\/1\.1 426 /,
  );
});

Deno.test("startEdge with tls takes a WebSocket over wss:// with the peer's TCP address, and ws:// still", async () => {
  await using edge = await tlsEdge();
  const ws = new WebSocket(`wss://localhost:${edge.port}/`, {
    ca: edge.tls.cert,
  });
  const echoed = new Promise<string>((resolve, reject) => {
    ws.once("message", (data: Buffer) => resolve(data.toString()));
    ws.once("error", reject);
  });
  ws.once("open", () => ws.send("over tls"));
  const text = await echoed;
  ws.close();
  // The address is the TCP peer's (what the limits count), not the bridge's.
  assert.match(text, /^127\.0\.0\.1:\d+ over tls$/);
  assert.equal(edge.admitted.length, 1);
  assert.match(edge.admitted[0]!, /^\S+ 127\.0\.0\.1:\d+$/);

  const plain = await WebSocketConnection.open(`ws://127.0.0.1:${edge.port}`);
  plain.send("in the clear");
  assert.match(
    String(await plain.receive()),
    /^127\.0\.0\.1:\d+ in the clear$/,
  );
  plain.close();
  await plain.closed;
  assert.equal(
    edge.admitted[0]!.split(" ")[0],
    edge.admitted[1]!.split(" ")[0],
  );
  await until(() => edge.socketCount === 0, "the sockets to go");
});

Deno.test("startEdge with tls echoes messages of 100 B, 15,000 B and 1 MB to the terminal client's TcpWebSocketConnection over wss://", async () => {
  await using edge = await tlsEdge();
  const client = await TcpWebSocketConnection.open(
    `wss://localhost:${edge.port}/`,
    { caCerts: [edge.tls.cert] },
  );
  for (const size of [100, 15_000, 1_000_000]) {
    const bytes = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, at + 65536));
    }
    client.send(bytes);
    assert.deepEqual(await client.receive(), bytes, `${size} bytes`);
  }
  client.send("over tls");
  assert.match(String(await client.receive()), /^127\.0\.0\.1:\d+ over tls$/);
  client.send("bye");
  assert.deepEqual(await client.closed, {
    code: 4000,
    reason: "bye",
    violation: null,
  });
  await until(() => edge.socketCount === 0, "the socket to go");
});

Deno.test("startEdge with tls closes a wss:// connection from its side, and on close(), socket and all", async () => {
  await using edge = await tlsEdge();
  const open = () =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${edge.port}/`, {
        ca: edge.tls.cert,
      });
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    });
  const first = await open();
  const closed = new Promise<number>((resolve) =>
    first.once("close", (code: number) => resolve(code))
  );
  first.send("bye");
  assert.equal(await closed, 4000);
  await until(() => edge.socketCount === 0, "the socket to go");
  const second = await open();
  const ended = new Promise<void>((resolve) => second.once("close", resolve));
  await edge.close();
  await ended;
  assert.equal(edge.socketCount, 0);
});

Deno.test("startEdge with tls cuts off a TLS handshake that stalls, and a socket that sends nothing, at headersTimeoutMs", async () => {
  await using edge = await tlsEdge(1000);
  const started = Date.now();
  // The start of a ClientHello's record header, then silence.
  const stalled = await Promise.all(
    Array.from({ length: 5 }, () => RawTcp.connect(edge.port)),
  );
  for (const tcp of stalled) {
    await tcp.write(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01]));
  }
  const silent = await Promise.all(
    Array.from({ length: 5 }, () => RawTcp.connect(edge.port)),
  );
  await until(() => edge.socketCount === 10, "the sockets to be counted");
  // Meanwhile a browser gets the page.
  const page = await fetch(`https://127.0.0.1:${edge.port}/`, {
    client: edge.client,
  });
  assert.equal(page.status, 200);
  await page.body?.cancel();
  const ends = await Promise.all(
    [...stalled, ...silent].map(async (tcp) => {
      const { code } = await tcp.readUntilClosed(4000);
      assert.equal(code, null);
      tcp.close();
      return Date.now() - started;
    }),
  );
  const last = Math.max(...ends);
  assert.ok(last >= 900 && last < 3000, `the last went after ${last} ms`);
  await until(() => edge.socketCount === 0, "the count to return");
});

Deno.test("startEdge with tls cuts off a socket that sends nothing at headersTimeoutMs while Date.now has jumped an hour back", async () => {
  await using edge = await tlsEdge(1000);
  const silent = await RawTcp.connect(edge.port);
  const realNow = Date.now;
  try {
    await until(() => edge.socketCount === 1, "the socket to be counted");
    // Its deadline was set on connecting; a wall-clock one now lies an hour
    // further away.
    Date.now = () => realNow() - 3_600_000;
    const { code } = await silent.readUntilClosed(4000);
    assert.equal(code, null);
  } finally {
    Date.now = realNow;
    silent.close();
  }
  await until(() => edge.socketCount === 0, "the count to return");
});

Deno.test("startEdge with tls gives a TLS client that completes its handshake and sends no request as long again, then closes it", async () => {
  await using edge = await tlsEdge(1000);
  const started = Date.now();
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port: edge.port,
    caCerts: [edge.tls.cert],
  });
  try {
    await conn.handshake();
    // Half a request line, then nothing.
    await conn.write(encoder.encode("GET / HT"));
    const read = await conn.read(new Uint8Array(1024)).catch(() => null);
    const after = Date.now() - started;
    // Closed (perhaps after a 408) by node:http's header deadline.
    assert.ok(after >= 900 && after < 3000, `closed after ${after} ms`);
    if (read !== null) {
      const rest = await conn.read(new Uint8Array(1024)).catch(() => null);
      assert.equal(rest, null);
    }
  } finally {
    conn.close();
  }
  await until(() => edge.socketCount === 0, "the count to return");
});

Deno.test("startEdge with tls counts TLS connections against the per-address cap, before their first byte", async () => {
  await using edge = await tlsEdge(5000, { maxSocketsPerGroup: 3 });
  const held = await Promise.all(
    Array.from({ length: 3 }, () => RawTcp.connect(edge.port)),
  );
  try {
    for (const tcp of held) {
      await tcp.write(new Uint8Array([0x16, 0x03, 0x01]));
    }
    await until(() => edge.socketCount === 3, "three sockets to be counted");
    // A fourth from the same address is dropped unanswered, TLS or not.
    const fourth = await Deno.connectTls({
      hostname: "localhost",
      port: edge.port,
      caCerts: [edge.tls.cert],
    });
    await assert.rejects(() => fourth.handshake());
    fourth.close();
  } finally {
    for (const tcp of held) tcp.close();
  }
  await until(() => edge.socketCount === 0, "the count to return");
});

Deno.test("startEdge with tls lets go of the TCP socket of a wss:// peer that stopped reading once it closes the connection, as over ws://", async () => {
  // The server's side of the bridge is gone at closeTimeoutMs (ws destroys
  // it); the TCP socket in front, which still holds TLS records the peer
  // will never read, must go too, not wait for ever to write them: it
  // counts against the address's sockets.
  let served!: (conn: EdgeConnection) => void;
  const accepted = new Promise<EdgeConnection>((resolve) => served = resolve);
  await using edge = await tlsEdge(5000, {
    onConnection: (conn) => served(conn),
  });
  const { tcp, head } = await RawTcp.upgrade(edge.port, [], {
    caCert: edge.tls.cert,
  });
  try {
    assert.match(head, /^HTTP\/1\.1 101/);
    const conn = await accepted;
    // Far more than the kernel buffers on both sides hold: the peer reads
    // nothing.
    for (let i = 0; i < 48; i++) conn.send(new Uint8Array(512 * 1024));
    conn.close(1008, "not reading");
    await conn.closed;
    await until(() => edge.socketCount === 0, "the TCP socket in front to go");
  } finally {
    tcp.close();
  }
});
