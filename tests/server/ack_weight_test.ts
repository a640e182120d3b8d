/**
 * An `ack` of many cursors costs the server store work per cursor (about
 * 27 µs each with messages waiting, some 7 ms for 256): taken as one token,
 * a connection flooding such acks at the rate kept the server's core busy
 * for everyone. A real server charges a token per 16 cursors.
 */
import assert from "node:assert/strict";
import { MAX_ACK_CURSORS } from "../../src/protocol/messages.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";

Deno.test("a real server charges an ack a token per 16 cursors: five of 256 use up the burst, and the next message is refused slow_down", async () => {
  await using server = await startTestServer();
  const raw = await RawClient.connect(server.url, { pinnedSpki: server.spki });
  assert.equal((await raw.register("mallory")).t, "welcome");
  const cursors = Array.from(
    { length: MAX_ACK_CURSORS },
    (_, n) => ({ to: `user${n}`, seq: 1 }),
  );
  // 5 x 17 tokens against a burst of 40 at 20 a second: two seconds owed.
  // Taken as one token each, they left 35 of the burst.
  for (let n = 0; n < 5; n++) await raw.sendMessage({ t: "ack", cursors });
  const reply = await raw.request({ t: "list" });
  assert.equal(reply.t, "error", JSON.stringify(reply));
  assert.equal(reply.t === "error" && reply.code, "slow_down");
  await raw.close();
});
