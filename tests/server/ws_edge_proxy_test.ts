/**
 * startEdge with `trustedProxies`: a connection from a trusted proxy is
 * counted, admitted and named as the client its X-Forwarded-For names,
 * from its upgrade until the socket is gone. A real edge on an ephemeral
 * port, raw TCP peers.
 */

import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import {
  type EdgeConnection,
  type EdgeOptions,
  startEdge,
} from "../../src/server/ws_edge.ts";
import { TrustedProxies } from "../../src/server/forwarded_for.ts";
import { until } from "../_helpers/bystanders.ts";
import { upgradeRequest } from "../_helpers/raw_tcp.ts";

/** A socket to `port` that sent an upgrade, and the status line it got. */
function upgradeFrom(
  port: number,
  headers: string[],
): Promise<{ socket: Socket; status: string }> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.write(upgradeRequest(headers));
    });
    socket.on("error", reject);
    socket.on("data", (data) => {
      text += data.toString("latin1");
      if (text.includes("\r\n")) {
        socket.removeAllListeners("data");
        resolve({ socket, status: text.split("\r\n")[0]! });
      }
    });
  });
}

async function edgeBehindProxy(overrides: Partial<EdgeOptions> = {}) {
  const accepted: [string, string, boolean][] = [];
  const connections: [EdgeConnection, string][] = [];
  const refused: [string, string, string][] = [];
  const edge = await startEdge({
    hostname: "127.0.0.1",
    port: 0,
    maxPayloadBytes: 1024 * 1024,
    maxHandshakePayloadBytes: 64 * 1024,
    maxUnfinished: 0,
    maxUnfinishedPerGroup: 2,
    maxMessageFragments: 64,
    maxHandshakeFrameReads: 64,
    maxFrameReads: 4096,
    smallReadsPerSecond: 64,
    smallReadBurst: 256,
    closeTimeoutMs: 1000,
    headersTimeoutMs: 5000,
    idleTimeoutSeconds: 0,
    maxSockets: 100,
    // What the proxy's own address could open, were it counted at accept.
    maxSocketsPerGroup: 1,
    accept: (group, address, unfinished) => {
      accepted.push([group, address, unfinished]);
      return { kind: "in" };
    },
    admit: () => null,
    onConnection: (conn, group) => connections.push([conn, group]),
    trustedProxies: new TrustedProxies(["127.0.0.1"]),
    refused: (group, address, why) => refused.push([group, address, why]),
    ...overrides,
  });
  return Object.assign(edge, {
    accepted,
    connections,
    refused,
    [Symbol.asyncDispose]: () => edge.close(),
  });
}

Deno.test("startEdge counts a trusted proxy's connection as its X-Forwarded-For client's from the upgrade until the socket is gone", async () => {
  await using edge = await edgeBehindProxy();
  const sockets: Socket[] = [];
  try {
    for (const client of ["10.9.0.1", "10.9.0.2", "10.9.0.1"]) {
      const { socket, status } = await upgradeFrom(edge.port, [
        `X-Forwarded-For: ${client}`,
      ]);
      sockets.push(socket);
      assert.equal(status, "HTTP/1.1 101 Switching Protocols", client);
    }
    // Three sockets from the proxy's address, past its maxSocketsPerGroup
    // of 1: none counts against it.
    assert.equal(edge.socketsFrom("127.0.0.1"), 0);
    assert.equal(edge.socketsFrom("10.9.0.1"), 2);
    assert.equal(edge.socketsFrom("10.9.0.2"), 1);
    // Admitted as the client's (not at the TCP accept, as the proxy's).
    assert.deepEqual(
      edge.accepted.map(([group, , unfinished]) => [group, unfinished]),
      [["10.9.0.1", false], ["10.9.0.2", false], ["10.9.0.1", false]],
    );
    for (const [, address] of edge.accepted) {
      assert.match(address, /^10\.9\.0\.[12] via 127\.0\.0\.1:\d+$/);
    }
    assert.deepEqual(edge.connections.map(([, group]) => group), [
      "10.9.0.1",
      "10.9.0.2",
      "10.9.0.1",
    ]);
    const [conn] = edge.connections[0]!;
    assert.match(conn.remoteAddress, /^10\.9\.0\.1 via 127\.0\.0\.1:\d+$/);
    assert.equal(conn.loopback, false);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  await until(
    () => edge.socketsFrom("10.9.0.1") === 0 && edge.socketCount === 0,
    "the sockets to be gone from their clients' counts",
  );
  assert.equal(edge.socketsFrom("10.9.0.2"), 0);
});

Deno.test("startEdge tells accept a forwarded client is at its cap of connections still in their handshake", async () => {
  await using edge = await edgeBehindProxy();
  const sockets: Socket[] = [];
  try {
    // maxUnfinishedPerGroup is 2: two not done, then a third asks.
    for (let i = 0; i < 3; i++) {
      const { socket } = await upgradeFrom(edge.port, [
        "X-Forwarded-For: 10.9.0.1",
      ]);
      sockets.push(socket);
    }
    assert.deepEqual(edge.accepted.map(([, , unfinished]) => unfinished), [
      false,
      false,
      true,
    ]);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  await until(() => edge.socketCount === 0, "the sockets to be gone");
});

Deno.test("startEdge at maxUnfinished lets a forwarded client in by closing the oldest handshake of the client holding the most, as one that comes straight", async () => {
  await using edge = await edgeBehindProxy({
    maxUnfinished: 4,
    // As the server's: refused at a cap.
    accept: (_group, _address, unfinished) =>
      unfinished
        ? { kind: "refuse", why: "too many connections are still starting" }
        : { kind: "in" },
  });
  const sockets: Socket[] = [];
  const cut: string[] = [];
  try {
    // Four silent, the server's cap: two clients of the proxy, two each.
    for (const client of ["10.9.0.1", "10.9.0.1", "10.9.0.2", "10.9.0.2"]) {
      const { socket, status } = await upgradeFrom(edge.port, [
        `X-Forwarded-For: ${client}`,
      ]);
      sockets.push(socket);
      socket.once(
        "close",
        () => cut.push(`${client} #${sockets.indexOf(socket)}`),
      );
      assert.equal(status, "HTTP/1.1 101 Switching Protocols", client);
    }
    // A third client holds none: it takes 10.9.0.1's oldest slot. It was
    // refused (503), so that 32 addresses behind the proxy held every slot.
    const { socket, status } = await upgradeFrom(edge.port, [
      "X-Forwarded-For: 10.9.0.3",
    ]);
    sockets.push(socket);
    assert.equal(status, "HTTP/1.1 101 Switching Protocols");
    await until(() => cut.length > 0, "10.9.0.1's oldest to be closed");
    assert.deepEqual(cut, ["10.9.0.1 #0"]);
    assert.deepEqual(edge.refused.map(([group, , why]) => [group, why]), [[
      "10.9.0.1",
      "cut off in its handshake: another address needed the room",
    ]]);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  await until(() => edge.socketCount === 0, "the sockets to be gone");
});

Deno.test("startEdge at maxUnfinished closes no trusted proxy's connection whose client is not known yet for a newcomer", async () => {
  await using edge = await edgeBehindProxy({
    maxUnfinished: 4,
    maxSocketsPerGroup: 100,
    accept: (_group, _address, unfinished) =>
      unfinished
        ? { kind: "refuse", why: "too many connections are still starting" }
        : { kind: "in" },
  });
  const sockets: Socket[] = [];
  let closed = 0;
  try {
    // Four from the proxy, their upgrades not sent yet: the proxy's
    // address is no one's, and holds the most.
    for (let i = 0; i < 4; i++) {
      const socket = connect({ host: "127.0.0.1", port: edge.port });
      socket.on("error", () => {});
      socket.once("close", () => closed++);
      sockets.push(socket);
    }
    await until(() => edge.socketCount === 4, "the proxy's four");
    // Straight from another address: nothing to take, refused.
    const status = await new Promise<string>((resolve, reject) => {
      let text = "";
      const socket = connect({
        host: "127.0.0.1",
        port: edge.port,
        localAddress: "127.0.0.2",
      }, () => socket.write(upgradeRequest([])));
      sockets.push(socket);
      socket.on("error", reject);
      socket.on("data", (data) => {
        text += data.toString("latin1");
        if (text.includes("\r\n")) resolve(text.split("\r\n")[0]!);
      });
    });
    assert.equal(status, "HTTP/1.1 503 Service Unavailable");
    // The proxy's sockets are all there, and upgrade as their clients.
    assert.equal(closed, 0);
    assert.deepEqual(edge.refused, []);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  await until(() => edge.socketCount === 0, "the sockets to be gone");
});

Deno.test("startEdge answers a trusted proxy's upgrade with 400 when X-Forwarded-For names no IP address, and says so for the log", async () => {
  await using edge = await edgeBehindProxy();
  const { socket, status } = await upgradeFrom(edge.port, [
    "X-Forwarded-For: 10.9.0.1:5555",
  ]);
  try {
    assert.equal(status, "HTTP/1.1 400 Bad Request");
    assert.equal(edge.connections.length, 0);
    assert.equal(edge.refused.length, 1);
    const [group, address, why] = edge.refused[0]!;
    assert.equal(group, "127.0.0.1");
    assert.match(address, /^127\.0\.0\.1:\d+$/);
    assert.match(why, /X-Forwarded-For names '10\.9\.0\.1:5555'/);
  } finally {
    socket.destroy();
  }
  await until(() => edge.socketCount === 0, "the socket to be gone");
});
