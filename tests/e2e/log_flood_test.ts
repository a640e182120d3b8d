/**
 * The server's log under a flood of misbehaving connections from one address:
 * one line per kind of event, address group and minute, not one per
 * connection (each connection has a port of its own).
 */

import assert from "node:assert/strict";
import { until } from "../_helpers/bystanders.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { clientFrame, Opcode, TcpChatPeer } from "../_helpers/raw_tcp.ts";

const PEERS = 12;

Deno.test("startServer logs protocol violations once per address group, not once per connection", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      handshakesPerSecond: 0,
      maxUnfinishedPerAddress: 0,
      closeTimeoutMs: 200,
    },
  });
  const peers = await Promise.all(
    Array.from(
      { length: PEERS },
      () => TcpChatPeer.connect(server.port, server.spki),
    ),
  );
  // A text frame after the handshake breaks the protocol. The peers do not
  // answer the Close: their sockets are destroyed 200 ms later.
  await Promise.all(
    peers.map((peer) =>
      peer.tcp.write(
        clientFrame(Opcode.text, new TextEncoder().encode("hi")),
      )
    ),
  );
  await until(
    () => server.connectionCount === 0,
    `every connection to be closed (${server.connectionCount} open)`,
  );
  const lines = server.logs.filter((l) => /^closing 127\.0\.0\.1:/.test(l));
  assert.equal(lines.length, 1, JSON.stringify(server.logs));
  for (const peer of peers) peer.drop();
});

Deno.test("startServer logs dismissals once per address group, not once per connection", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      handshakesPerSecond: 0,
      maxUnfinishedPerAddress: 0,
      registerTimeoutMs: 100,
      closeTimeoutMs: 200,
    },
  });
  const peers = await Promise.all(
    Array.from(
      { length: PEERS },
      () => TcpChatPeer.connect(server.port, server.spki),
    ),
  );
  // None registers: each is disconnected at the deadline (and, as it does
  // not answer the Close, destroyed 200 ms later).
  await until(
    () => server.connectionCount === 0,
    `every connection to be closed (${server.connectionCount} open)`,
  );
  const lines = server.logs.filter((l) =>
    /^disconnecting 127\.0\.0\.1:\d+: no username/.test(l)
  );
  assert.equal(lines.length, 1, JSON.stringify(server.logs));
  for (const peer of peers) peer.drop();
});
