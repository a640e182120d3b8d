/**
 * The edge's deadlines (idle ping, close) run on a monotonic clock: a wall
 * clock set back does not spare a dead peer (the TLS first-byte deadline:
 * ws_edge_tls_test.ts).
 */

import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import { Opcode, RawTcp } from "../_helpers/raw_tcp.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const HOUR_MS = 3_600_000;

Deno.test("startServer pings a silent peer and closes it when no pong comes while Date.now has jumped an hour back", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      idleTimeoutSeconds: 1,
      // Only the idle watch may close it: not the handshake's deadline.
      handshakeTimeoutMs: 60_000,
    },
  });
  const { tcp, head } = await RawTcp.upgrade(server.port);
  const realNow = Date.now;
  try {
    assert.match(head, /^HTTP\/1\.1 101 /);
    // Heard at upgrade; from now on the wall clock reads an hour earlier.
    // A wall-clock watch takes the peer as heard an hour from now.
    Date.now = () => realNow() - HOUR_MS;
    const { opcodes } = await tcp.readUntilClosed(WAIT_MS);
    assert.ok(opcodes.includes(Opcode.ping), `a ping was sent: ${opcodes}`);
    assert.equal(opcodes.at(-1), Opcode.close, `then a close: ${opcodes}`);
  } finally {
    Date.now = realNow;
    tcp.close();
  }
});
