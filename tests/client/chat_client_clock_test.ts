/**
 * ChatClient's silence watchdog measures quiet on a monotonic clock: a
 * wall clock set forward or back (NTP, a laptop waking, a user) neither
 * drops a live connection nor stops the pings that find a dead server.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import {
  type Connection,
  WebSocketConnection,
} from "../../src/transport/connection.ts";
import { startTestServer, testIdentity } from "../_helpers/chat.ts";

const PING_INTERVAL_MS = 200;
const HOUR_MS = 3_600_000;

Deno.test("ChatClient's watchdog keeps pinging a live server, neither dropping it nor falling silent, while Date.now jumps an hour forward and then back", async () => {
  await using server = await startTestServer();
  // What the client sends, counted: once signed in, only its pings.
  let sent = 0;
  let counted: (() => void) | null = null;
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
    pingIntervalMs: PING_INTERVAL_MS,
    openConnection: async (url) =>
      counting(await WebSocketConnection.open(url)),
  });
  function counting(conn: Connection): Connection {
    for (const name of ["send", "sendFilled", "sendParts"] as const) {
      const original = conn[name] as ((...args: unknown[]) => void) | undefined;
      if (original === undefined) continue;
      (conn as unknown as Record<string, unknown>)[name] = (
        ...args: unknown[]
      ) => {
        sent++;
        counted?.();
        return original.apply(conn, args);
      };
    }
    return conn;
  }
  assert.equal(
    (await client.register("watcher", await testIdentity())).t,
    "welcome",
  );
  /** Resolves after `n` more sends; throws if the client ends first. */
  const pings = async (n: number) => {
    const until = sent + n;
    while (sent < until) {
      const more = Promise.withResolvers<void>();
      counted = more.resolve;
      // A bound, not a pace: ten ping intervals without one is a failure.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ending = await Promise.race([
        more.promise.then(() => null),
        client.ended,
        new Promise<string>((resolve) => {
          timer = setTimeout(
            () => resolve("no ping"),
            10 * PING_INTERVAL_MS,
          );
        }),
      ]);
      clearTimeout(timer);
      if (ending !== null) {
        assert.fail(`the client stopped pinging: ${JSON.stringify(ending)}`);
      }
    }
    counted = null;
  };
  const realNow = Date.now;
  try {
    // An hour forward: a wall-clock watchdog takes that for an hour of
    // silence and drops the connection at its next look.
    Date.now = () => realNow() + HOUR_MS;
    await pings(3);
    // An hour back: a wall-clock watchdog hears nothing quiet for an hour
    // and sends no ping at all (a dead server would go unnoticed).
    Date.now = () => realNow() - HOUR_MS;
    await pings(3);
  } finally {
    Date.now = realNow;
  }
  assert.equal(client.isOver, false);
  await client.quit();
  await client.ended;
});
