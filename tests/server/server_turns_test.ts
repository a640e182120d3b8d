import assert from "node:assert/strict";
import net from "node:net";
import { serverTurns } from "../../src/server/server_turns.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/**
 * A loop that never leaves the microtask queue (a connection whose frames
 * are read already, a flood), held to the server's turns, while a real
 * socket pair on loopback passes a byte back and forth: what each of its
 * round trips waits for is the loop polling sockets between two turns.
 * Counted in turns, not milliseconds, so that a loaded machine (turns last
 * longer) does not change the figure much.
 */
Deno.test("the server's turns let a socket's replies in under a loop that never leaves the microtask queue", async () => {
  const ROUND_TRIPS = 5;
  // Shorter than the server's 20 ms: the loop polls sockets more often
  // between short turns ended by a timer (10-13 turns a round trip, 50-99
  // at 20 ms), and an immediate's 121 stay as they are.
  const turns = serverTurns(5);
  const echo = net.createServer((socket) => {
    socket.on("data", (data) => socket.write(data));
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  const { port } = echo.address() as net.AddressInfo;
  const peer = net.connect(port, "127.0.0.1");
  await new Promise((resolve) => peer.once("connect", resolve));
  let trips = 0;
  peer.on("data", () => {
    trips++;
    if (trips < ROUND_TRIPS) peer.write("p");
  });
  peer.write("p");
  let ended = 0;
  const started = performance.now();
  try {
    while (trips < ROUND_TRIPS && performance.now() - started < WAIT_MS) {
      const wait = turns.check();
      if (wait === null) {
        await Promise.resolve();
      } else {
        ended++;
        await wait;
      }
    }
    assert.equal(trips, ROUND_TRIPS, `round trips within ${WAIT_MS} ms`);
    assert.ok(
      ended <= 40 * ROUND_TRIPS,
      `${ROUND_TRIPS} round trips took ${ended} turns`,
    );
  } finally {
    peer.destroy();
    await new Promise((resolve) => echo.close(resolve));
  }
});
