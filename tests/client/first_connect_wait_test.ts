import assert from "node:assert/strict";
import {
  firstConnectWait,
  ServerTrustError,
} from "../../src/client/server_connect.ts";
import { FIRST_CONNECT_TRIES } from "../../src/client/reconnect_status.ts";
import { HandshakeError } from "../../src/crypto/handshake.ts";
import {
  CutInHandshakeError,
  HandshakeTimeoutError,
} from "../../src/transport/secure_channel.ts";
import { WebSocketUpgradeError } from "../../src/transport/websocket_upgrade.ts";

const URL = "ws://10.0.0.5:8767";

Deno.test("firstConnectWait waits a reconnection's delay after a cut in the handshake, and says why in the page's words", () => {
  // The shortest of each jittered wait (1, 2, 4, 8, 10 s at 50 %).
  const waits = [1, 2, 3, 4, 5].map((attempt) =>
    firstConnectWait(new CutInHandshakeError(), URL, attempt, () => 0)
  );
  assert.deepEqual(waits.map((wait) => wait?.ms), [
    500,
    1000,
    2000,
    4000,
    5000,
  ]);
  assert.equal(
    waits[0]!.text,
    `The server at ${URL} did not let you in yet (it closed the connection during the handshake); it may be busy, as when a whole class joins at once: trying again, up to ${
      FIRST_CONNECT_TRIES - 1
    } times`,
  );
});

Deno.test("firstConnectWait waits as a 503 that says to try again asks, and not at all for a failure another try would not change", () => {
  const busy = new WebSocketUpgradeError(
    "refused",
    503,
    "too many new connections from your address; try again in a few seconds",
    5,
  );
  assert.equal(firstConnectWait(busy, URL, 1)?.ms, 5000);
  const full = new WebSocketUpgradeError("refused", 503, "server full", 5);
  for (
    const error of [
      full,
      new ServerTrustError("Server key mismatch"),
      new HandshakeError("Unsupported protocol version 2"),
      new HandshakeError("the connection closed during the handshake"),
      new Error("Cannot connect to ws://10.0.0.5:8767: connection refused"),
    ]
  ) {
    assert.equal(firstConnectWait(error, URL, 1), null, String(error));
  }
});

Deno.test("firstConnectWait waits a reconnection's delay after a handshake not answered in time, as after a cut, and says so", () => {
  const wait = firstConnectWait(
    new HandshakeTimeoutError(10_000),
    URL,
    3,
    () => 0,
  );
  assert.equal(wait?.ms, 2000);
  assert.equal(
    wait?.text,
    `The server at ${URL} did not finish the handshake within 10 s; it may be busy, as when a whole class joins at once: trying again, up to ${
      FIRST_CONNECT_TRIES - 1
    } times`,
  );
  assert.equal(
    wait?.reason,
    `Cannot connect to ${URL}: the handshake did not finish within 10 s`,
  );
});
