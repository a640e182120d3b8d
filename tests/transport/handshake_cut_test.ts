import assert from "node:assert/strict";
import { HandshakeError } from "../../src/crypto/handshake.ts";
import {
  CutInHandshakeError,
  openChannel,
} from "../../src/transport/secure_channel.ts";
import { memoryPair } from "../_helpers/memory_pair.ts";

Deno.test("openChannel rejects with CutInHandshakeError when the server's connection ends with no Close frame (1006) before its hello", async () => {
  const { client, server } = memoryPair();
  const opening = openChannel(client, {});
  // What a browser or the terminal client's WebSocket reports for a socket
  // the server destroyed (ws_edge.ts cutOff): no Close frame came.
  server.close(1006);
  const error = await opening.catch((e: unknown) => e);
  assert.ok(error instanceof CutInHandshakeError, String(error));
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.message, "the connection closed during the handshake");
});

Deno.test("openChannel rejects with a plain HandshakeError, not CutInHandshakeError, when the server closes with a Close frame during the handshake", async () => {
  const { client, server } = memoryPair();
  const opening = openChannel(client, {});
  server.close(1000);
  const error = await opening.catch((e: unknown) => e);
  assert.ok(error instanceof HandshakeError, String(error));
  assert.ok(!(error instanceof CutInHandshakeError));
});
