/** An address's connections limited together: admission's answers, logged. */

import assert from "node:assert/strict";
import { AddressLimits } from "../../src/server/address_limits.ts";
import {
  TOO_MANY_NEW,
  TOO_MANY_UNFINISHED,
} from "../../src/server/admission.ts";
import { DEFAULT_CONNECTION_LIMITS } from "../../src/server/config.ts";
import { LogLimiter } from "../../src/server/log_limiter.ts";

function limited(overrides: Partial<typeof DEFAULT_CONNECTION_LIMITS> = {}) {
  const lines: string[] = [];
  const limits = new AddressLimits(
    { ...DEFAULT_CONNECTION_LIMITS, ...overrides },
    new LogLimiter((line) => lines.push(line)),
    undefined,
    () => [],
  );
  return { limits, lines };
}

const NO_SOCKETS = { socketCount: 0, socketsFrom: () => 0 };

Deno.test("AddressLimits.accept lets an address's burst of handshakes in, then logs the refusal once", () => {
  const { limits, lines } = limited({
    handshakesPerSecond: 1,
    handshakeBurst: 2,
  });
  assert.equal(limits.accept("10.0.0.1", "10.0.0.1:1", false).kind, "in");
  assert.equal(limits.accept("10.0.0.1", "10.0.0.1:2", false).kind, "in");
  assert.notEqual(limits.accept("10.0.0.1", "10.0.0.1:3", false).kind, "in");
  assert.notEqual(limits.accept("10.0.0.1", "10.0.0.1:4", false).kind, "in");
  // Another address has its own burst.
  assert.equal(limits.accept("10.0.0.2", "10.0.0.2:1", false).kind, "in");
  // The second refusal of the address within the minute is not logged.
  assert.deepEqual(lines, [
    `refused a connection from 10.0.0.1:3: ${TOO_MANY_NEW}`,
  ]);
  limits.stop();
});

Deno.test("AddressLimits.accept says why a socket is dropped unanswered: the handshakes still unfinished", () => {
  const { limits, lines } = limited({
    handshakesPerSecond: 1,
    handshakeBurst: 1,
  });
  assert.equal(limits.accept("10.0.0.1", "10.0.0.1:1", true).kind, "refuse");
  assert.equal(limits.accept("10.0.0.3", "10.0.0.3:1", false).kind, "in");
  assert.equal(limits.accept("10.0.0.3", "10.0.0.3:2", false).kind, "refuse");
  assert.equal(limits.accept("10.0.0.3", "10.0.0.3:3", true).kind, "drop");
  assert.deepEqual(lines, [
    `refused a connection from 10.0.0.1:1: ${TOO_MANY_UNFINISHED}`,
    `refused a connection from 10.0.0.3:2: ${TOO_MANY_NEW}`,
  ]);
  limits.stop();
});

Deno.test("AddressLimits.admit refuses every connection once the server is stopping, and says so in the log", () => {
  const { limits, lines } = limited();
  assert.equal(limits.admit("10.0.0.1", "10.0.0.1:1", NO_SOCKETS, false), null);
  assert.equal(
    limits.admit("10.0.0.1", "10.0.0.1:2", NO_SOCKETS, true),
    "the server is shutting down",
  );
  assert.deepEqual(lines, [
    "refused a connection from 10.0.0.1:2: the server is shutting down",
  ]);
  limits.stop();
});

Deno.test("AddressLimits.admit counts an address's open sockets against its limit", () => {
  const { limits, lines } = limited({ maxConnectionsPerAddress: 2 });
  const sockets = (n: number) => ({ socketCount: n, socketsFrom: () => n });
  assert.equal(limits.admit("10.0.0.1", "10.0.0.1:1", sockets(2), false), null);
  const refused = limits.admit("10.0.0.1", "10.0.0.1:2", sockets(3), false);
  assert.notEqual(refused, null);
  assert.deepEqual(lines, [
    `refused a connection from 10.0.0.1:2: ${refused}`,
  ]);
  limits.stop();
});
